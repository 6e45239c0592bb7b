/**
 * A service with a secret of each kind ({file}, {env}, {command}) gets the values (the fixture
 * prints their hashes, and once the raw values), and no value is ever shown: not by the REST API,
 * /metrics, the OpenAPI document, the /ws feed (snapshot, services, events, the logs topic) or the
 * CLI. The log API shows "***" where the service printed a value, and a search for a value (or a
 * part of one) finds nothing.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startOrchestrator, until, writeFolder } from '../helpers/process.mjs';
import { cli } from '../cli/run.js';
import { req, WsClient, type Msg } from '../http/lib.js';

const SHOW_ENV = fileURLToPath(new URL('./fixtures/show-env.mjs', import.meta.url));
const FILE_SECRET = 'sk-file-7f3a9c1e5b2d4f60';
const ENV_SECRET = 'env-secret-91c4e2a8d7';
const CMD_SECRET = 'cmdsecret-4b8e1f0a2c';
const SECRETS = [FILE_SECRET, ENV_SECRET, CMD_SECRET];
const sha = (v: string) => createHash('sha256').update(v).digest('hex');

t.test('secret values reach the service and appear in no output', async (t) => {
  const port = await freePort();
  const { dir } = writeFolder({
    prefix: 'orch-secrets-leak-',
    config: { orchestrator: { port } },
    services: {
      sx: {
        id: 'sx', executable: `node ${SHOW_ENV}`, auto_start: false,
        environment: { HASH: 'FILE_KEY,ENV_KEY,CMD_KEY', RAW: 'FILE_KEY,ENV_KEY,CMD_KEY', SHOW: 'PLAIN', PLAIN: 'plain-visible-value' },
        secrets: {
          FILE_KEY: { file: 'secrets/openai.key' },
          ENV_KEY: { env: 'SX_TOKEN_SOURCE' },
          // The command's text is shown (it is the source); its output is the secret.
          CMD_KEY: { command: "printf '%s-%s' cmdsecret 4b8e1f0a2c" },
        },
      },
    },
  });
  mkdirSync(join(dir, 'services', 'secrets'));
  writeFileSync(join(dir, 'services', 'secrets', 'openai.key'), `${FILE_SECRET}\n`);
  const o = await startOrchestrator({ dir, port, env: { SX_TOKEN_SOURCE: ENV_SECRET } });
  t.teardown(() => o.stop());

  const ws = await WsClient.open(o.url);
  t.teardown(() => ws.ws.close());
  await ws.next((m) => m.type === 'snapshot', 'snapshot');
  ws.send({ type: 'subscribe', topics: ['services', 'service/sx', 'logs/sx'] });
  await ws.next((m) => m.type === 'subscribed', 'subscribed');

  t.equal((await req(o.url, '/api/services/sx/start', { method: 'PUT' })).status, 202);
  const text = async (q = '') => (await req(o.url, `/api/services/sx/logs?stream=stdout${q}`)).text;
  const logs = await until(async () => { const l = await text(); return l.includes('ready') && l; }, 'the service printed its environment');

  // The values reached the service ...
  t.match(logs, `hash FILE_KEY len=${FILE_SECRET.length} sha256=${sha(FILE_SECRET)}`, '{file}: the file\'s contents, trimmed');
  t.match(logs, `hash ENV_KEY len=${ENV_SECRET.length} sha256=${sha(ENV_SECRET)}`, '{env}: the orchestrator\'s variable');
  t.match(logs, `hash CMD_KEY len=${CMD_SECRET.length} sha256=${sha(CMD_SECRET)}`, '{command}: its stdout');
  t.match(logs, 'show PLAIN=plain-visible-value', 'environment is not a secret: shown as it is');
  // ... and the log API shows *** where the service printed them.
  for (const k of ['FILE_KEY', 'ENV_KEY', 'CMD_KEY']) t.match(logs, `raw ${k}=***\n`, `${k} masked in the text logs`);
  const ndjson = (await req(o.url, '/api/services/sx/logs?stream=stdout', { headers: { accept: 'application/x-ndjson' } })).text;
  t.match(ndjson, '"line":"raw FILE_KEY=***"', 'masked in ndjson');
  t.match(await text('&since=0'), 'raw CMD_KEY=***', 'masked in a since read');
  t.match(await text('&q=raw'), 'raw ENV_KEY=***', 'masked in a search result');
  t.match(await text(`&regex=${encodeURIComponent('raw .*=')}`), 'raw FILE_KEY=***', 'masked in a regex search result');
  // Searching for a value, or a part of one, finds nothing: the search sees only masked text.
  for (const s of SECRETS) {
    t.equal(await text(`&q=${encodeURIComponent(s)}`), '', 'a search for a secret finds no line');
    t.equal(await text(`&q=${encodeURIComponent(s.slice(0, 6))}`), '', 'nor for its beginning');
    t.equal(await text(`&regex=${encodeURIComponent(`${s.slice(0, 5)}.`)}`), '', 'nor a regex for part of it');
  }

  // The feed's logs topic sent the masked lines.
  await ws.until((all) => all.some((m) => m.type === 'log' && (m.lines as string[]).includes('raw CMD_KEY=***')), 'the masked lines on logs/sx');

  // Now gather every output there is and look for the values in it.
  const outputs: Record<string, string> = {};
  outputs['GET /api/services'] = (await req(o.url, '/api/services')).text;
  const detail = await req(o.url, '/api/services/sx');
  outputs['GET /api/services/sx'] = detail.text;
  t.same(detail.json.spec.secrets, {
    FILE_KEY: { value: '***', file: join(dir, 'services', 'secrets', 'openai.key') },
    ENV_KEY: { value: '***', env: 'SX_TOKEN_SOURCE' },
    CMD_KEY: { value: '***', command: "printf '%s-%s' cmdsecret 4b8e1f0a2c" },
  }, 'the spec shows each secret as *** with its source');
  t.equal(detail.json.spec.environment.PLAIN, 'plain-visible-value');
  outputs['GET /api/events'] = (await req(o.url, '/api/events?limit=1000')).text;
  outputs['GET /metrics'] = (await req(o.url, '/metrics')).text;
  outputs['GET /api/openapi.json'] = (await req(o.url, '/api/openapi.json')).text;
  outputs['GET /api/services/sx/logs (both streams)'] = (await req(o.url, '/api/services/sx/logs')).text;
  const ws2 = await WsClient.open(o.url);
  await ws2.next((m) => m.type === 'snapshot', 'a second snapshot');
  ws2.ws.close();
  const frames = (c: WsClient) => c.messages.map((m: Msg) => JSON.stringify(m)).join('\n');
  outputs['/ws frames'] = `${frames(ws)}\n${frames(ws2)}`;
  t.ok(ws.messages.some((m) => m.type === 'event'), 'the feed sent events');
  t.ok(ws.messages.some((m) => m.type === 'services'), 'and services frames');
  const u = ['--url', o.url];
  for (const args of [['list'], ['list', '--json'], ['show', 'sx'], ['show', 'sx', '--json'], ['logs', 'sx'], ['events'], ['events', '--json']]) {
    const r = await cli(t, [...args, ...u]);
    t.equal(r.code, 0, `orchestrator ${args.join(' ')} succeeds`);
    outputs[`CLI ${args.join(' ')}`] = r.stdout + r.stderr;
  }
  t.match(outputs['CLI logs sx'], 'raw FILE_KEY=***', 'the CLI shows the masked line');
  outputs['the orchestrator\'s own output'] = o.output();
  for (const [where, out] of Object.entries(outputs)) {
    t.ok(out.length > 0, `${where} said something`);
    for (const s of SECRETS) t.notOk(out.includes(s), `${where} does not contain the secret ${s.slice(0, 4)}…`);
  }
});

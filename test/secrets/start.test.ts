/**
 * Env files and secrets are read at each start: env files in order, then environment, then
 * secrets, then the orchestrator's own ORCHESTRATOR_* variables; a changed secret file gives the
 * next run the new value; a missing env file or a failing secret fails that start with an exit
 * event naming it (reason env_file / secret) and follows the restart policy, while another service
 * keeps running. A secret command past its 10 s limit fails the start and leaves no process behind.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startOrchestrator, until, writeFolder } from '../helpers/process.mjs';
import { req } from '../http/lib.js';

const SHOW_ENV = fileURLToPath(new URL('./fixtures/show-env.mjs', import.meta.url));
const sha = (v: string) => createHash('sha256').update(v).digest('hex');
const once = { max_retries: 1, backoff_seconds: 0.1 };

t.test('env files, precedence, resolution at each start, and failed starts', async (t) => {
  const port = await freePort();
  const exe = `node ${SHOW_ENV}`;
  const { dir } = writeFolder({
    prefix: 'orch-secrets-start-',
    config: { orchestrator: { port } },
    services: {
      envs: {
        id: 'envs', executable: exe,
        env_file: ['one.env', 'two.env'],
        environment: { C: 'from-environment', D: 'from-environment', SHOW: 'A,B,C,QUOTED,ORCHESTRATOR_URL', HASH: 'D,ROT' },
        secrets: { D: { file: 'd.secret' }, ROT: { file: 'rot.secret' } },
      },
      steady: { id: 'steady', executable: exe, environment: { SHOW: 'A' } },
      nofile: { id: 'nofile', executable: exe, env_file: ['missing.env'], restart_policy: once },
      badcmd: { id: 'badcmd', executable: exe, secrets: { K: { command: 'echo no vault here >&2; exit 3' } }, restart_policy: once },
      noenv: { id: 'noenv', executable: exe, secrets: { K: { env: 'SX_DEFINITELY_UNSET' } }, restart_policy: once },
      // Runs past the 10 s limit: its whole process group is killed and the start fails.
      slowcmd: { id: 'slowcmd', executable: exe, secrets: { K: { command: 'sleep 31.25; echo late' } }, restart_policy: { max_retries: 0 } },
      nokey: { id: 'nokey', executable: exe, secrets: { K: { file: 'keys/nope.key' } }, restart_policy: once },
    },
  });
  const svc = join(dir, 'services');
  writeFileSync(join(svc, 'one.env'), 'A=one\nB=one\nC=one\nD=one\nORCHESTRATOR_URL=http://not-the-orchestrator\nQUOTED="a b # not a comment"\n# a comment\n');
  writeFileSync(join(svc, 'two.env'), 'B=two\nC=two\nD=two\n');
  writeFileSync(join(svc, 'd.secret'), 'd-secret-value-1234\n');
  writeFileSync(join(svc, 'rot.secret'), 'first-rotating-value\n');
  const o = await startOrchestrator({ dir, port });
  t.teardown(() => o.stop());

  const get = async (path: string) => (await req(o.url, path)).json;
  const logs = async (id: string) => (await req(o.url, `/api/services/${id}/logs?stream=stdout`)).text;
  const exits = async (id: string) => ((await get(`/api/events?service=${id}&type=exit&limit=100`)).events as any[]).filter((e) => e.type === 'exit');

  // Precedence: one.env < two.env < environment < secrets < the orchestrator's own variables.
  const first = await until(async () => { const l = await logs('envs'); return l.includes('ready') && l; }, 'envs printed its environment');
  t.match(first, 'show A=one\n', 'a variable only in the first env file');
  t.match(first, 'show B=two\n', 'a later env file wins over an earlier one');
  t.match(first, 'show C=from-environment\n', 'environment wins over the env files');
  t.match(first, `hash D len=19 sha256=${sha('d-secret-value-1234')}`, 'a secret wins over environment');
  t.match(first, `show ORCHESTRATOR_URL=http://127.0.0.1:${port}\n`, 'the orchestrator\'s own variables win over everything');
  t.match(first, 'show QUOTED=a b # not a comment\n', 'dotenv quoting (util.parseEnv)');
  t.match(first, `hash ROT len=20 sha256=${sha('first-rotating-value')}`);

  // Resolved at each start: the next run gets the file's new contents.
  const steadyPid = await until(async () => { const s = await get('/api/services/steady'); return s.state === 'running' && s.pid; }, 'steady running');
  writeFileSync(join(svc, 'rot.secret'), 'second-rotating-value\n');
  t.equal((await req(o.url, '/api/services/envs/restart', { method: 'PUT' })).status, 202);
  await until(async () => (await logs('envs')).includes(`hash ROT len=21 sha256=${sha('second-rotating-value')}`), 'the restarted run got the new secret');

  // Failed starts: the exit event names the file or the secret, the restart policy applies (one retry, then failed).
  const failed = async (id: string) => until(async () => { const s = await get(`/api/services/${id}`); return s.state === 'failed' && s; }, `${id} failed`);
  for (const [id, reason, message] of [
    ['nofile', 'env_file', `env file ${join(svc, 'missing.env')}: not found`],
    ['badcmd', 'secret', 'secret K: command exited with code 3 (stderr: no vault here)'],
    ['noenv', 'secret', 'secret K: environment variable SX_DEFINITELY_UNSET is not set in the orchestrator\'s environment'],
    ['nokey', 'secret', `secret K: file ${join(svc, 'keys', 'nope.key')}: not found`],
  ] as const) {
    const s = await failed(id);
    t.equal(s.last_exit.reason, reason, `${id}: last_exit.reason ${reason}`);
    t.equal(s.last_exit.detail, message, `${id}: the detail names what failed`);
    t.match(s.reason, `${reason}: ${message}`, `${id}: the state's reason says so`);
    t.match(s.reason, 'gave up after 1 retry', `${id}: the restart policy applied`);
    const e = await exits(id);
    t.equal(e.length, 2, `${id}: two exit events (the start and its one retry)`);
    t.same(e.map((x) => x.data), [{ reason, error: message }, { reason, error: message }], `${id}: each an exit event with the reason and the message`);
  }

  // A command that runs too long: the start fails after 10 s, and nothing of the command is left.
  const slow = await failed('slowcmd');
  t.equal(slow.last_exit.reason, 'secret');
  t.equal(slow.last_exit.detail, 'secret K: command did not finish within 10s');
  await until(() => !execFileSync('ps', ['-eo', 'args']).toString().split('\n').some((l) => l.startsWith('sleep 31.25')), 'the command\'s process group is gone');

  // The rest of the fleet was not touched.
  const steady = await get('/api/services/steady');
  t.equal(steady.state, 'running', 'the other service keeps running');
  t.equal(steady.pid, steadyPid, 'in the same process');
  t.equal((await get('/api/services/envs')).state, 'running');

  // Fixed, it starts.
  writeFileSync(join(svc, 'missing.env'), 'SHOW=FIXED\nFIXED=now-there\n');
  t.equal((await req(o.url, '/api/services/nofile/start', { method: 'PUT' })).status, 202);
  await until(async () => (await logs('nofile')).includes('show FIXED=now-there'), 'nofile starts once its env file exists');
});

/**
 * After a kill -9 and a restart, the adopted run's earlier lines stay masked in the log API from the
 * first answer on: the new orchestrator reads the {file} secrets again for its masks before it serves logs.
 */
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startOrchestrator, until, writeFolder } from '../helpers/process.mjs';
import { req } from '../http/lib.js';

const SHOW_ENV = fileURLToPath(new URL('./fixtures/show-env.mjs', import.meta.url));
const SECRET = 'adopted-secret-5e7d1c9a';

t.test('an adopted run\'s secret stays masked', async (t) => {
  const port = await freePort();
  const { dir } = writeFolder({
    prefix: 'orch-secrets-adopt-',
    config: { orchestrator: { port } },
    services: { sx: { id: 'sx', executable: `node ${SHOW_ENV}`, environment: { RAW: 'K' }, secrets: { K: { file: 'k.secret' } } } },
  });
  writeFileSync(join(dir, 'services', 'k.secret'), SECRET);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logs = async (url: string) => (await req(url, '/api/services/sx/logs?stream=stdout')).text;

  const first = await startOrchestrator({ dir, port });
  await until(async () => (await logs(first.url)).includes('raw K=***'), 'the first orchestrator masks the value');
  const pid = (await req(first.url, '/api/services/sx')).json.pid as number;
  first.child.kill('SIGKILL');
  await first.exit;
  t.teardown(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* stopped by the second orchestrator, as it should be */ } });

  const second = await startOrchestrator({ dir, port });
  t.teardown(() => second.stop());
  const s = await until(async () => { const j = (await req(second.url, '/api/services/sx')).json; return j.adopted && j; }, 'the run adopted');
  t.equal(s.pid, pid, 'the same process');
  // The line was written under the first orchestrator; the second masks it from its first answer.
  const text = await logs(second.url);
  t.match(text, 'raw K=***\n', 'masked after the restart');
  t.notOk(text.includes(SECRET), 'the value is not shown');
  t.equal((await req(second.url, `/api/services/sx/logs?q=${SECRET}`)).text, '', 'nor found by a search');
});

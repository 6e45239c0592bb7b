/**
 * Replicas with real processes on real ports: 3 instances each healthy on its own port, a scale
 * 3 → 5 → 2 that touches no instance that stays, and a fake nvidia-smi listing 2 GPUs → 4 instances
 * alternate CUDA_VISIBLE_DEVICES 0,1,0,1. (Rolling restarts: rollout.test.ts.)
 */
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import WebSocket from 'ws';
import { join } from 'node:path';
import type { ServiceDetail } from '../../src/api/types.js';
import { alive, harness, type Harness } from '../helpers/harness.js';
import { freeRange, web } from '../helpers/replicas.js';

/** The environment a process was started with. */
function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

const healthyIds = (h: Harness, ids: string[]) => ids.every((id) => h.o.fleet.has(id) && h.view(id).state === 'running' && h.view(id).health === 'healthy');
const ids = (n: number) => Array.from({ length: n }, (_, i) => `web#${i}`);

async function api<T>(h: Harness, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${h.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

t.test('3 replicas on 3 ports, each healthy, each told its index', async (t) => {
  const base = await freeRange(3);
  const h = await harness(t, { http: true, services: { web: web(base, 3) } });
  await h.waitFor(() => healthyIds(h, ids(3)), '3 healthy instances');
  for (let n = 0; n < 3; n++) {
    const res = await fetch(`http://127.0.0.1:${base + n}/health`);
    t.equal(((await res.json()) as { replica: number }).replica, n, `port ${base + n} is served by instance ${n}`);
    const env = environOf(h.view(`web#${n}`).pid!);
    t.same([env.REPLICA_INDEX, env.REPLICA_COUNT, env.SERVICE_PORT, env.PORT], [String(n), '3', String(base + n), String(base + n)], `web#${n}: REPLICA_INDEX, REPLICA_COUNT, SERVICE_PORT and \${SERVICE_PORT} expanded`);
  }
  const list = await api<{ services: Array<{ id: string; replica: { service: string; index: number } | null; port: number }> }>(h, 'GET', '/api/services');
  t.same(list.body.services.map((s) => [s.id, s.replica?.service, s.replica?.index, s.port]), ids(3).map((id, n) => [id, 'web', n, base + n]), 'listed as instances of web');
  const group = await api<ServiceDetail>(h, 'GET', '/api/services/web');
  t.equal(group.status, 200);
  t.equal(group.body.replicas, 3);
  t.same(group.body.instances!.map((i) => i.id), ids(3), 'the service shows its instances');
  t.equal(group.body.state, 'running');
  t.equal(group.body.health, 'healthy');
  const one = await api<ServiceDetail>(h, 'GET', '/api/services/web%231');
  t.equal(one.body.id, 'web#1', 'an instance is addressed as web#1 (%23 in a URL)');

  // One instance: stop it, the others carry on.
  const stop = await api<{ state: string }>(h, 'PUT', '/api/services/web%232/stop');
  t.equal(stop.status, 202);
  await h.waitView('web#2', (v) => v.state === 'stopped');
  t.ok(healthyIds(h, ['web#0', 'web#1']), 'web#0 and web#1 untouched');
  // The service: all of them.
  const stopAll = await api<ServiceDetail>(h, 'PUT', '/api/services/web/stop');
  t.equal(stopAll.status, 202);
  await h.waitFor(() => ids(3).every((id) => h.view(id).state === 'stopped'), 'all stopped');
  await api(h, 'PUT', '/api/services/web/start');
  await h.waitFor(() => healthyIds(h, ids(3)), 'all healthy again');

  // Logs of the service merge its instances', each line naming its instance.
  const logs = await fetch(`${h.url}/api/services/web/logs?stream=stdout&lines=100`);
  const text = await logs.text();
  for (const id of ids(3)) t.match(text, new RegExp(`^${id} \\| replica ${id.slice(4)} of 3`, 'm'), `${id}'s lines are in the service's logs`);
  const events = await api<{ events: Array<{ service: string; type: string }> }>(h, 'GET', '/api/services/web/events?limit=1000');
  t.ok(ids(3).every((id) => events.body.events.some((e) => e.service === id)), 'the service\'s events include its instances\'');

  // The feed's service/web topic carries its instances' events and views.
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws?topics=service/web`);
  t.teardown(() => ws.close());
  const frames: Array<{ type: string; event?: { service: string }; events?: Array<{ service: string }>; services?: Array<{ id: string }> }> = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((resolve) => ws.once('open', resolve));
  await h.waitFor(() => frames.some((f) => f.type === 'snapshot'), 'the snapshot');
  await api(h, 'PUT', '/api/services/web%231/restart');
  await h.waitFor(() => frames.some((f) => [f.event, ...(f.events ?? [])].some((e) => e?.service === 'web#1')), 'an event of web#1 on service/web');
  await h.waitFor(() => frames.some((f) => f.type === 'services' && f.services?.some((x) => x.id === 'web#1')), 'a view of web#1 on service/web');
  t.pass('service/web carries web#1\'s events and views');
});

t.test('scale 3 → 5 → 2 over the API: the instances that stay are not touched', async (t) => {
  const base = await freeRange(5);
  const h = await harness(t, { http: true });
  const created = await api<ServiceDetail>(h, 'POST', '/api/services', web(base, 3));
  t.equal(created.status, 201);
  await h.waitFor(() => healthyIds(h, ids(3)), '3 healthy instances');
  const pids = ids(3).map((id) => h.view(id).pid!);

  const up = await api<ServiceDetail>(h, 'PATCH', '/api/services/web', { replicas: 5 });
  t.equal(up.status, 200);
  t.equal(up.body.replicas, 5);
  await h.waitFor(() => healthyIds(h, ids(5)), '5 healthy instances');
  t.same(ids(3).map((id) => h.view(id).pid), pids, 'web#0-2 kept their processes');
  t.same(ids(3).map((id) => h.view(id).restarts), [0, 0, 0], 'and were not restarted');
  const added = [h.view('web#3').pid!, h.view('web#4').pid!];

  const down = await api<ServiceDetail>(h, 'PATCH', '/api/services/web', { replicas: 2 });
  t.equal(down.status, 200);
  t.same(down.body.instances!.map((i) => i.id), ids(2), 'two instances left');
  await h.waitFor(() => [pids[2]!, ...added].every((p) => !alive(p)), 'web#2-4 gone');
  t.same(ids(2).map((id) => h.view(id).pid), pids.slice(0, 2), 'web#0 and web#1 kept their processes');
  t.notOk(h.o.fleet.has('web#2'), 'web#2 is no longer defined');
  const list = await api<{ services: Array<{ id: string }> }>(h, 'GET', '/api/services');
  t.same(list.body.services.map((s) => s.id), ids(2));
  // The highest index stops first.
  const stops = h.events().filter((e) => e.type === 'state' && e.data.to === 'stopped' && /^web#[234]$/.test(e.service ?? '')).map((e) => e.service);
  t.same(stops, ['web#4', 'web#3', 'web#2'], 'highest index stopped first');
});

t.test('a fake nvidia-smi lists 2 GPUs: 4 instances alternate CUDA_VISIBLE_DEVICES 0,1,0,1', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'orch-gpu-'));
  // -L lists two GPUs; --query-compute-apps says every replica.mjs process uses 512 MiB.
  writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh
if [ "$1" = "-L" ]; then echo "GPU 0: NVIDIA Fake (UUID: GPU-0)"; echo "GPU 1: NVIDIA Fake (UUID: GPU-1)"; exit 0; fi
for d in /proc/[0-9]*; do
  if tr '\\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q 'replica[.]mjs'; then echo "\${d#/proc/}, 512"; fi
done
`);
  chmodSync(join(bin, 'nvidia-smi'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  t.teardown(() => { process.env.PATH = path; });
  const base = await freeRange(4);
  const h = await harness(t, { http: true, services: { web: web(base, 4, { gpus: { per_replica: 1, devices: 'auto' } }) } });
  await h.waitFor(() => healthyIds(h, ids(4)), '4 healthy instances');
  t.same(ids(4).map((id) => environOf(h.view(id).pid!).CUDA_VISIBLE_DEVICES), ['0', '1', '0', '1'], 'each process got its device');
  const list = await api<{ services: Array<{ gpus: number[] }> }>(h, 'GET', '/api/services');
  t.same(list.body.services.map((s) => s.gpus), [[0], [1], [0], [1]], 'and the view shows it');
  // GPU memory per instance, sampled through nvidia-smi every sample interval.
  await h.waitFor(() => ids(4).every((id) => h.o.fleet.list().find((e) => e.spec.id === id)?.gpuMemoryBytes === 512 * 1024 * 1024), 'GPU memory sampled');
  const sampled = await api<{ services: Array<{ gpu_memory_bytes: number | null }> }>(h, 'GET', '/api/services');
  t.same(sampled.body.services.map((s) => s.gpu_memory_bytes), ids(4).map(() => 512 * 1024 * 1024), 'each instance shows the GPU memory of its processes');
});

t.test('no nvidia-smi: devices auto gives no GPUs, and that is not an error', async (t) => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  t.teardown(() => { process.env.PATH = path; });
  const base = await freeRange(2);
  const h = await harness(t, { services: { web: web(base, 2, { gpus: { per_replica: 2, devices: 'auto' } }) } });
  process.env.PATH = path;
  await h.waitFor(() => healthyIds(h, ids(2)), '2 healthy instances');
  t.same(ids(2).map((id) => environOf(h.view(id).pid!).CUDA_VISIBLE_DEVICES), ['', ''], 'CUDA_VISIBLE_DEVICES is empty: no GPU');
  t.same(h.o.fleet.problems, [], 'no configuration problem');
  t.same(h.o.fleet.list().map((e) => e.gpuMemoryBytes), [null, null], 'no GPU memory measured, and no error');
});

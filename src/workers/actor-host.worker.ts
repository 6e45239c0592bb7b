/**
 * Entry point of the actor-host worker thread: wires the ActorHost (the supervision tree) to the
 * main thread. Facts arrive as raw messages, commands over comlink; effects, events and views
 * leave batched, once per turn of this thread's event loop.
 */
import { expose, type Endpoint } from 'comlink';
import { parentPort, workerData } from 'node:worker_threads';
import { ActorHost } from '../actors/host.js';
import type { ServiceEvent } from '../actors/protocol.js';
import { systemClock } from '../clock.js';
import type { FromWorker, HostApi, HostInit, ToWorker } from './wire.js';

const init = workerData as HostInit;
const port = parentPort!;
const post = (msg: FromWorker) => port.postMessage(msg);

const host = new ActorHost(init.config, {
  clock: systemClock,
  scheduler: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
  random: Math.random,
  // setImmediate, not a microtask: timers that fire together (sample grid) leave as one batch.
  defer: (fn) => setImmediate(fn),
}, {
  kernel: (effects) => post({ type: 'kernel', effects }),
  events: (events) => post({ type: 'events', events }),
  views: (views, removed) => post({ type: 'views', views, removed }),
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
});

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'facts':
      for (const f of msg.facts) host.deliver(f.id, f.msg);
      host.flushNow(); // a restart's spawn leaves now, not after the next turn of the loop
      break;
    case 'crash':
      throw new Error(msg.message);
    case 'bench_events':
      benchEvents(msg.rate, msg.seconds);
      break;
  }
});

/**
 * Synthetic events from the actor side, through the same path as real ones (to the registry, then
 * the feed), stamped with their creation time: the bench measures fan-out from here to clients.
 */
function benchEvents(rate: number, seconds: number): void {
  const TICK = 5;
  const start = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const elapsed = performance.now() - start;
    const due = Math.min(Math.floor((elapsed / 1000) * rate), Math.floor(rate * seconds));
    const batch: ServiceEvent[] = [];
    for (; sent < due; sent++) batch.push({ service: null, type: 'bench', at: systemClock.now(), data: { n: sent, t: performance.timeOrigin + performance.now() } });
    if (batch.length) post({ type: 'events', events: batch });
    if (elapsed >= seconds * 1000) clearInterval(timer);
  }, TICK);
}

const api: HostApi = {
  command: (id, command, reason) => host.command(id, command, reason),
  add: (entry) => host.add(entry),
  update: (spec, restart) => host.update(spec, restart),
  remove: (id) => host.remove(id),
  stopAll: (reason) => host.stopAll(reason),
  views: () => host.views(),
};
expose(api, init.port as unknown as Endpoint);

host.load(init.entries);
post({ type: 'ready', views: host.views() });

/**
 * The host supervisor: main thread's side of the actor-host worker. It starts the worker, moves
 * effects to the kernel and facts back, wraps every comlink call with a timeout, and when the
 * worker dies it rejects the pending calls and starts a new one that re-adopts every live process.
 *
 * A Node worker that dies does not take its children with it — the main thread owns them — so a
 * crash of the deciding side loses, duplicates and orphans nothing.
 */
import { releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { addRestart } from '../actors/policy.js';
import type { Fact, HostConfig, HostEntry, KernelEffect, ServiceEvent, ServiceView } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import { workerUrl } from './paths.js';
import type { FromWorker, HostApi, HostInit, ToWorker } from './wire.js';

export interface HostSupervisorOptions {
  config: Omit<HostConfig, 'epoch'>;
  /** A fresh, never reused epoch for each incarnation of the worker. */
  nextEpoch(): string;
  /** What the worker should supervise, built from current knowledge at each (re)start. */
  entries(): HostEntry[];
  log: Logger;
  kernel(effects: KernelEffect[]): void;
  events(events: ServiceEvent[]): void;
  views(views: ServiceView[], removed: string[]): void;
  /** Called after a replacement worker is ready (not after the first start). */
  restarted?(reason: string): void;
  /** The worker died too often; the orchestrator cannot go on. */
  fatal(error: Error): void;
  callTimeoutMs?: number;
  /** More than maxRestarts within periodMs is fatal. */
  maxRestarts?: number;
  periodMs?: number;
}

export class CallError extends Error {
  constructor(message: string, readonly code: 'timeout' | 'host_down') {
    super(message);
    this.name = 'CallError';
  }
}

/** Routine facts wait at most this long for company. */
const ROUTINE_BATCH_MS = 10;
/**
 * Facts from the services themselves (heartbeats, output notices) wait longer: a thousand services
 * heartbeating every second then cost twenty messages to the worker a second, not a hundred, and a
 * deadline of seconds does not notice 50 ms.
 */
const AGENT_BATCH_MS = 50;

type Pending = { reject: (e: Error) => void; timer?: NodeJS.Timeout };

export class ActorHostSupervisor {
  private worker: Worker | null = null;
  private api: Remote<HostApi> | null = null;
  private readonly pending = new Set<Pending>();
  private facts: Fact[] = [];
  private flushSoon = false;
  private flushTimer: NodeJS.Timeout | null = null;
  /** performance.now() the pending flushTimer fires at. */
  private flushAt = 0;
  private restarts: number[] = [];
  private stopping = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private ready = false;

  constructor(private readonly opts: HostSupervisorOptions) {}

  /** Start the worker; resolves when its supervision tree is loaded. */
  start(): Promise<void> {
    this.spawnWorker(false);
    return this.whenReady();
  }

  /** Resolves when a worker is up; rejects if the worker keeps dying (fatal). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Call the worker's API with a timeout; rejected at once if the worker dies meanwhile. */
  call<K extends keyof HostApi>(method: K, args: Parameters<HostApi[K]>, timeoutMs = this.opts.callTimeoutMs ?? 10_000): Promise<Awaited<ReturnType<HostApi[K]>>> {
    const api = this.api;
    if (!api || !this.ready) return Promise.reject(new CallError('the actor host is restarting; try again', 'host_down'));
    return new Promise((resolve, reject) => {
      const entry: Pending = { reject };
      this.pending.add(entry);
      const timer = setTimeout(() => {
        this.pending.delete(entry);
        reject(new CallError(`actor host did not answer ${method} within ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      entry.timer = timer;
      ((api[method] as unknown as (...a: unknown[]) => Promise<unknown>)(...args)).then((value) => {
        clearTimeout(timer);
        this.pending.delete(entry);
        resolve(value as Awaited<ReturnType<HostApi[K]>>);
      }, (err: unknown) => {
        clearTimeout(timer);
        this.pending.delete(entry);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  /**
   * Queue a kernel fact for the worker. Lifecycle facts (spawned, exited) leave as soon as the
   * current callback is done (a microtask: the spawns of one batch of effects still share one
   * message); routine ones (probe results, samples) wait up to ROUTINE_BATCH_MS to share a message
   * with others, heartbeats and output notices up to AGENT_BATCH_MS. Order is kept: a flush always
   * sends the whole queue.
   */
  deliver(fact: Fact): void {
    this.facts.push(fact);
    if (this.flushSoon) return;
    const type = fact.msg.type;
    const wait = type === 'probed' || type === 'sampled' ? ROUTINE_BATCH_MS : type === 'heartbeat' || type === 'output' ? AGENT_BATCH_MS : 0;
    if (wait === 0) {
      this.flushSoon = true;
      queueMicrotask(() => this.flushFacts());
      return;
    }
    const at = performance.now() + wait;
    if (this.flushTimer && this.flushAt <= at) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushAt = at;
    this.flushTimer = setTimeout(() => this.flushFacts(), wait);
  }

  /** Load generation for the bench (see wire.ts). */
  benchEvents(rate: number, seconds: number): void {
    this.post({ type: 'bench_events', rate, seconds });
  }

  /** Fault injection: make the worker throw (tests and the chaos suite). */
  crash(message = 'injected crash'): void {
    this.post({ type: 'crash', message });
  }

  get isReady(): boolean {
    return this.ready;
  }

  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  /** Stop the worker for good (the services are not touched). */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    this.teardown(new CallError('the orchestrator is shutting down', 'host_down'));
    if (worker) await worker.terminate();
  }

  // ------------------------------------------------------------------------------------------

  private post(msg: ToWorker): void {
    this.worker?.postMessage(msg);
  }

  private flushFacts(): void {
    this.flushSoon = false;
    if (this.flushTimer) { clearTimeout(this.flushTimer); this.flushTimer = null; }
    if (this.facts.length === 0) return;
    const facts = this.facts;
    this.facts = [];
    // While the worker is down facts are dropped: the replacement starts from the kernel's truth.
    if (this.ready && facts.length) this.post({ type: 'facts', facts });
  }

  private spawnWorker(isRestart: boolean): void {
    const { port1, port2 } = new MessageChannel();
    const epoch = this.opts.nextEpoch();
    const init: HostInit = { config: { ...this.opts.config, epoch }, entries: this.opts.entries(), port: port2 };
    // A small young generation: the actors allocate steadily, and V8 would otherwise grow it (and
    // the process RSS) by tens of MB for no gain in throughput.
    const worker = new Worker(workerUrl('actor-host.worker'), { workerData: init, transferList: [port2], resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    this.worker = worker;
    this.api = wrap<HostApi>(port1 as unknown as Endpoint);
    const log = this.opts.log.child({ thread: 'actor-host', epoch });

    worker.on('message', (msg: FromWorker) => {
      switch (msg.type) {
        case 'ready':
          this.opts.views(msg.views, []);
          this.ready = true;
          log.info({ services: init.entries.length }, isRestart ? 'actor host restarted' : 'actor host ready');
          for (const w of this.readyWaiters.splice(0)) w.resolve();
          if (isRestart) this.opts.restarted?.('worker exited');
          break;
        case 'kernel': this.opts.kernel(msg.effects); break;
        case 'events': this.opts.events(msg.events); break;
        case 'views': this.opts.views(msg.views, msg.removed); break;
        case 'log': log[msg.level](msg.fields ?? {}, msg.msg); break;
      }
    });
    worker.on('error', (err) => log.error({ err }, 'actor host worker failed'));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.teardown(new CallError('the actor host restarted while handling this call; try again', 'host_down'));
      port1.close();
      if (this.stopping) return;
      const period = this.opts.periodMs ?? 60_000;
      const { times, exceeded } = addRestart(this.restarts, bootNow(), period, this.opts.maxRestarts ?? 5);
      this.restarts = times;
      if (exceeded) {
        const err = new Error(`actor host died ${this.restarts.length} times within ${period / 1000}s (last exit code ${code})`);
        for (const w of this.readyWaiters.splice(0)) w.reject(err);
        this.opts.fatal(err);
        return;
      }
      log.warn({ code }, 'actor host exited; starting a new one that re-adopts every live process');
      this.spawnWorker(true);
    });
  }

  private teardown(error: CallError): void {
    this.ready = false;
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    if (this.api) {
      try { this.api[releaseProxy](); } catch { /* worker already gone */ }
    }
    this.api = null;
    this.worker = null;
  }
}

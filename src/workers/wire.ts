/**
 * The API between the main thread (kernel, registry, HTTP) and the actor-host worker, and nothing
 * else: raw messages carry the high-volume streams (effects out, facts in, views, events); comlink
 * carries request/response commands (HostApi) on a dedicated port. The values these messages carry
 * are the actors' vocabulary, defined by their owners (actors/protocol.ts), never here.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Command, Fact, HostConfig, HostEntry, KernelEffect, ServiceEvent, ServiceView } from '../actors/protocol.js';
import type { ServiceSpec } from '../config/schema.js';

export interface HostInit {
  config: HostConfig;
  entries: HostEntry[];
  /** comlink endpoint for HostApi */
  port: MessagePort;
}

/** main → worker */
export type ToWorker =
  | { type: 'facts'; facts: Fact[] }
  /** Fault injection (tests, chaos): make the worker throw from its message handler. */
  | { type: 'crash'; message: string }
  /** Load generation (bench, only with ORCHESTRATOR_BENCH=1): emit `rate` events a second for `seconds`. */
  | { type: 'bench_events'; rate: number; seconds: number };

/** worker → main */
export type FromWorker =
  /** The tree is loaded; the views let the main thread answer queries at once. */
  | { type: 'ready'; views: ServiceView[] }
  | { type: 'kernel'; effects: KernelEffect[] }
  | { type: 'events'; events: ServiceEvent[] }
  | { type: 'views'; views: ServiceView[]; removed: string[] }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> };

/** Request/response commands the worker serves over comlink. */
export interface HostApi {
  command(id: string, command: Command, reason: string): ServiceView;
  add(entry: HostEntry): ServiceView;
  update(spec: ServiceSpec, restart: boolean): ServiceView;
  remove(id: string): Promise<void>;
  stopAll(reason: string): Promise<void>;
  views(): ServiceView[];
}

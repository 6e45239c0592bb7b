/**
 * Choosing the engine: `orchestrator.http_engine` (or ORCHESTRATOR_HTTP_ENGINE) is auto, uws or
 * node. auto takes native uWebSockets.js when a binary for this Node and libc loads, and Node's
 * http + ws otherwise — with the reason, so the log says why the fast path is not taken. The node
 * engine (and with it `ws`) is loaded only when it is the one taken.
 */
import type { Engine } from './types.js';
import { load, UwsEngine } from './uws.js';

export type { Engine, EngineName } from './types.js';

export interface EngineChoice {
  engine: Engine;
  /** Why this engine: the binary loaded, or why it did not. */
  reason: string;
}

const nodeEngine = async (): Promise<Engine> => new (await import('./node.js')).NodeEngine();

export async function createEngine(wanted: 'auto' | 'uws' | 'node'): Promise<EngineChoice> {
  if (wanted === 'node') return { engine: await nodeEngine(), reason: 'http_engine: node was asked for' };
  const native = load();
  if (native.uws) return { engine: new UwsEngine(native.uws), reason: `native uWebSockets.js from ${native.from}` };
  if (wanted === 'uws') throw new Error(`http_engine: uws was asked for, but ${native.reason}. Use http_engine: auto or node.`);
  return { engine: await nodeEngine(), reason: native.reason };
}

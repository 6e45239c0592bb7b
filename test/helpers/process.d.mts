// Types for process.mjs (the one real-process layer for tests, scripts and benches).
import type { ChildProcess } from 'node:child_process';

export declare const ROOT: string;
export declare const BIN: string;
export declare const FIXTURES: string;

/** A TCP port that was free a moment ago. */
export declare function freePort(): Promise<number>;

export interface UntilOptions {
  /** Named in the timeout error. */
  what?: string;
  /** Default 20 000. */
  timeoutMs?: number;
  /** Default 50. */
  everyMs?: number;
}
/** Poll `check` until it gives something other than undefined, null or false; a throw counts as "not yet". */
export declare function until<T>(
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  opts: string | UntilOptions,
  timeoutMs?: number,
): Promise<T>;

export type ConfigSections = Record<string, any>;
export declare const TEST_DEFAULTS: Readonly<ConfigSections>;
/** `extra`'s sections merged (one level deep) over `base` (the test defaults unless given). */
export declare function testConfig(extra?: ConfigSections, base?: ConfigSections): ConfigSections;
export declare function writeServices(dir: string, services: Record<string, Record<string, unknown>>): void;

export interface FolderOptions {
  services?: Record<string, Record<string, unknown>>;
  config?: ConfigSections;
  base?: ConfigSections;
  dir?: string;
  prefix?: string;
}
export declare function writeFolder(opts?: FolderOptions): { dir: string; config: string };

export interface Running {
  child: ChildProcess;
  /** stdout and stderr, interleaved as they came. */
  output(): string;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
export declare function runBin(args: string[], env?: Record<string, string | undefined>, cwd?: string, nodeArgs?: string[]): Running;
export declare function stopGracefully(run: Pick<Running, 'child' | 'exit'>, timeoutMs?: number): Promise<void>;

export interface StartOptions extends Omit<FolderOptions, 'dir'> {
  /** An existing folder (its orchestrator.yaml as it is); then `port` is required. */
  dir?: string;
  port?: number;
  /** Extra arguments after `serve --config FILE`. */
  args?: string[];
  env?: Record<string, string | undefined>;
  nodeArgs?: string[];
  cwd?: string;
  /** How long to wait for /health (default 20 000). */
  timeoutMs?: number;
  /** SIGTERM, then SIGKILL after this long (default 20 000). */
  stopTimeoutMs?: number;
}
export interface Orchestrator {
  url: string;
  port: number;
  dir: string;
  run: Running;
  child: ChildProcess;
  output(): string;
  exit: Running['exit'];
  /** Graceful stop; removes the folder if startOrchestrator made it. */
  stop(): Promise<void>;
}
export declare function startOrchestrator(opts?: StartOptions): Promise<Orchestrator>;

/**
 * The kernel side of the orchestrator: the main thread's owner of every OS handle. It performs
 * the effects actors ask for and reports what happened back as facts; it decides nothing about
 * lifecycles. This module is the executor only: each effect goes to the part that does it —
 * spawning and signalling process groups (child.ts), probes (probes.ts), resource samples
 * (sampler.ts) — and re-adoption after a restart is adopt.ts's.
 *
 * Each service runs as the leader of its own process group (detached), writes its own output to
 * O_APPEND files, and is known by pid + process start time + the run mark in its environment, so
 * it outlives the orchestrator and can be re-adopted later without ever mistaking a reused pid or
 * process group for it (marks.ts).
 */
import type { Logger } from 'pino';
import type { KernelEffect, RunInfo } from '../actors/protocol.js';
import type { RunLedger, RunRow } from '../store/runs.js';
import { Adoption, type StoppedGroup } from './adopt.js';
import type { Fact } from '../actors/protocol.js';
import { Children } from './child.js';
import type { LeftBehind } from './marks.js';
import { Prober } from './probes.js';
import { sampleTrees, type SampleRequest } from './sampler.js';
import { SecretMasks } from './secrets.js';
import { RunTokens, type TokenOwner } from './tokens.js';

export type { StoppedGroup } from './adopt.js';

export interface KernelOptions {
  logDir: string;
  ledger: RunLedger;
  log: Logger;
  /** Identity of the registry: with the run id it marks every process as ours (RUN_ID_ENV). */
  registryId: string;
  /** Environment every child starts from (already filtered); the spec's environment goes on top. */
  baseEnv: Record<string, string>;
  onFact(fact: Fact): void;
  /** Log files could not be opened for a child (null: they could again). The child runs without them. */
  onLogProblem?(message: string | null): void;
}

export class Kernel {
  private readonly children: Children;
  private readonly tokens = new RunTokens();
  /** Secret values of each service's runs, to mask in the logs the API and the feed serve. Memory only. */
  readonly masks = new SecretMasks();
  private readonly adoption: Adoption;
  private readonly prober = new Prober();
  private pendingSamples: SampleRequest[] = [];
  private closed = false;

  constructor(private readonly opts: KernelOptions) {
    this.children = new Children({ ...opts, tokens: this.tokens, masks: this.masks });
    this.adoption = new Adoption({ ledger: opts.ledger, log: opts.log, registryId: opts.registryId, children: this.children });
  }

  execute(effects: KernelEffect[]): void {
    for (const e of effects) {
      if (this.closed) return;
      switch (e.type) {
        case 'spawn': this.children.spawn(e); break;
        case 'signal': this.children.signal(e.id, e.runId, e.signal, e.cause); break;
        case 'probe': this.probe(e); break;
        case 'sample': this.queueSample(e.id, e.runId); break;
      }
    }
  }

  /** Whose run token a call about service `id` presented (ORCHESTRATOR_TOKEN, tokens.ts). */
  tokenOwner(id: string, token: string): TokenOwner {
    return this.tokens.owner(id, token);
  }

  /** Every process group the kernel currently owns, by service id. */
  liveRuns(): Map<string, { run: RunInfo; leaderExited: boolean }> {
    const out = new Map<string, { run: RunInfo; leaderExited: boolean }>();
    for (const p of this.children.all()) out.set(p.id, { run: p.run, leaderExited: p.leaderExited });
    return out;
  }

  /** Re-adopt the runs an earlier orchestrator left, from the ledger (adopt.ts Adoption.fromLedger). */
  adoptFromLedger(epoch: string): { adopted: RunInfo[]; vanished: RunRow[]; leftBehind: LeftBehind[] } {
    return this.adoption.fromLedger(epoch);
  }

  /** Stop the groups of ours no ledger row accounts for, before their services start (adopt.ts). */
  stopLeftBehind(groups: LeftBehind[], stopOf: (service: string) => { signal: NodeJS.Signals; timeoutMs: number }): Promise<StoppedGroup[]> {
    return this.adoption.stopLeftBehind(groups, stopOf);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.children.close();
    this.adoption.close();
    await this.prober.close();
  }

  // ------------------------------------------------------------------------------------------

  private probe(e: Extract<KernelEffect, { type: 'probe' }>): void {
    // Written out, not spread: a thousand of these a second, and a spread into a literal is V8's
    // slow path (a dictionary-mode copy).
    this.prober.probe(e.url, e.timeoutMs, e.keepAlive, (o) => {
      this.opts.onFact({ id: e.id, msg: { type: 'probed', kind: e.kind, runId: e.runId, gen: e.gen, ok: o.ok, latencyMs: o.latencyMs, status: o.status, error: o.error } });
    });
  }

  /** Samples asked for in one turn of the event loop are measured in one round (one /proc pass). */
  private queueSample(id: string, runId: string): void {
    const proc = this.children.get(id);
    if (!proc || proc.run.runId !== runId) return;
    if (this.pendingSamples.length === 0) setImmediate(() => this.runSamples());
    this.pendingSamples.push({ id, runId, pgid: proc.run.pgid });
  }

  private runSamples(): void {
    const batch = this.pendingSamples;
    this.pendingSamples = [];
    sampleTrees(batch).then((results) => {
      for (const r of results) this.opts.onFact({ id: r.id, msg: { type: 'sampled', runId: r.runId, cpu: r.cpu, rss: r.rss, pids: r.pids, cpuSeconds: r.cpuSeconds } });
    }, (err: unknown) => this.opts.log.warn({ err }, 'sampling failed'));
  }
}

/** The orchestrator's environment minus its own settings and npm's noise; children start from this. */
export function childBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k.startsWith('ORCHESTRATOR_') || k.startsWith('npm_')) continue;
    out[k] = v;
  }
  return out;
}

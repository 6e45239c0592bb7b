/**
 * HTTP health probes with undici over keep-alive connections. A probe is cut at its timeout;
 * 2xx is healthy unless a JSON body says otherwise ({"status": "unhealthy"}).
 *
 * Probes are the orchestrator's hottest path (a thousand a second for a thousand services), so
 * they use undici's low-level dispatch with a small handler: no promise, stream or timer per probe.
 */
import { performance } from 'node:perf_hooks';
import { Agent, type Dispatcher } from 'undici';

export interface ProbeOutcome {
  ok: boolean;
  latencyMs: number;
  status?: number;
  error?: string;
}

const BODY_CAP = 64 * 1024;
const HEALTHY_WORDS = new Set(['healthy', 'ok', 'up', 'pass', 'running', 'ready']);
const PROBE_HEADERS = { 'user-agent': 'agent-orchestrator-probe', accept: 'application/json' };

export class Prober {
  // Probes of one service never overlap, so an origin needs one kept-alive connection per service
  // it hosts; a host serving many services' health endpoints gets at most 8.
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, pipelining: 1, connections: 8 });
  private readonly targets = new Map<string, { origin: string; path: string }>();

  /** Probe `url`; `done` is called exactly once. */
  probe(url: string, timeoutMs: number, done: (outcome: ProbeOutcome) => void): void {
    let target = this.targets.get(url);
    if (!target) {
      const u = new URL(url);
      target = { origin: u.origin, path: `${u.pathname}${u.search}` };
      this.targets.set(url, target);
    }
    const handler = new ProbeHandler(timeoutMs, done);
    try {
      this.agent.dispatch({
        origin: target.origin, path: target.path, method: 'GET', headers: PROBE_HEADERS,
        headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      }, handler);
    } catch (err) {
      handler.onResponseError(null, err as Error);
    }
  }

  /** Forget targets of services that are gone (called now and then; a map entry is small). */
  forget(url: string): void {
    this.targets.delete(url);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

class ProbeHandler implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private status = 0;
  private json = false;
  private size = 0;
  private chunks: Buffer[] = [];
  private finished = false;

  constructor(private readonly timeoutMs: number, private readonly done: (o: ProbeOutcome) => void) {}

  onRequestStart(): void { /* nothing to set up */ }

  onResponseStart(_c: unknown, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    this.json = String(headers['content-type'] ?? '').includes('json');
  }

  onResponseData(_c: unknown, chunk: Buffer): void {
    // Only a JSON body can change the verdict; anything else (or too much) is read and dropped.
    if (!this.json) return;
    this.size += chunk.length;
    if (this.size > BODY_CAP) { this.json = false; this.chunks = []; return; }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const latencyMs = this.latency();
    const status = this.status;
    if (status < 200 || status >= 300) return this.finish({ ok: false, latencyMs, status, error: `HTTP ${status}` });
    // One chunk (the usual small body) is read as is, without a copy through Buffer.concat.
    const declared = this.json ? declaredStatus((this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString('utf8')) : undefined;
    if (declared !== undefined && !HEALTHY_WORDS.has(declared.toLowerCase())) {
      return this.finish({ ok: false, latencyMs, status, error: `reported status "${declared}"` });
    }
    this.finish({ ok: true, latencyMs, status });
  }

  onResponseError(_c: unknown, err: Error): void {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
    this.finish({ ok: false, latencyMs: this.latency(), error: timedOut ? `timed out after ${this.timeoutMs} ms` : code ?? e.message });
  }

  private latency(): number {
    return Math.round((performance.now() - this.started) * 100) / 100;
  }

  private finish(o: ProbeOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.done(o);
  }
}

function declaredStatus(body: string): string | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { status?: unknown }).status === 'string') {
      return (parsed as { status: string }).status;
    }
  } catch { /* not JSON after all: the status code decides */ }
  return undefined;
}

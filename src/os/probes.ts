/**
 * HTTP health probes with undici over keep-alive connections. A probe is cut at its timeout;
 * 2xx is healthy unless a JSON body says otherwise ({"status": "unhealthy"}).
 *
 * Probes are the orchestrator's hottest path (a thousand a second for a thousand services), so
 * they use undici's low-level dispatch with a small handler: no promise, stream or timer per probe.
 *
 * The timeout bounds the whole probe — queueing, connect, request, headers and body. undici's own
 * timeouts do not: headersTimeout starts once the request is written, after the connect, and the
 * connect has its own timeout (10 s by default). So the Prober keeps the probes in flight, in
 * deadline order per timeout value, and one timer armed for the earliest deadline: a probe that
 * reaches its deadline is reported timed out there and then, and its request aborted through the
 * controller undici gave it (undici destroys the connection). A probe still waiting for a
 * connection has no controller yet: it is aborted the moment it gets one, and each timeout value
 * has its own agent whose connect timeout is that timeout, so a connect that hangs is dropped by
 * undici within about a second of the deadline (its connect timer is coarse) and holds up nothing
 * queued behind it for long. The timer costs nothing per probe: it stays armed as probes come and
 * go, and when it fires it cuts the overdue ones and re-arms only if probes are in flight.
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
/** setTimeout's largest delay; a longer one would fire after 1 ms. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The probes with one timeout: their agent, and those in flight, oldest (earliest deadline) first,
 * in a list threaded through the handlers (a Set here doubled the probes' GC work).
 */
class Lane {
  head: ProbeHandler | undefined;
  tail: ProbeHandler | undefined;

  constructor(readonly agent: Agent) {}

  add(h: ProbeHandler): void {
    h.prev = this.tail;
    if (this.tail) this.tail.next = h;
    else this.head = h;
    this.tail = h;
  }

  remove(h: ProbeHandler): void {
    if (h.prev) h.prev.next = h.next;
    else this.head = h.next;
    if (h.next) h.next.prev = h.prev;
    else this.tail = h.prev;
    h.prev = h.next = undefined;
  }
}

export class Prober {
  private readonly lanes = new Map<number, Lane>();
  private readonly targets = new Map<string, { origin: string; path: string }>();
  /** The deadline timer, armed while probes may be in flight, and when it fires (performance.now()). */
  private timer: NodeJS.Timeout | undefined;
  private firesAt = 0;

  /**
   * Probe `url`; `done` is called exactly once, at the latest `timeoutMs` after the call. Without
   * `keepAlive` the request says Connection: close and the socket goes with the response.
   */
  probe(url: string, timeoutMs: number, keepAlive: boolean, done: (outcome: ProbeOutcome) => void): void {
    let target = this.targets.get(url);
    if (!target) {
      const u = new URL(url);
      target = { origin: u.origin, path: `${u.pathname}${u.search}` };
      this.targets.set(url, target);
    }
    const lane = this.lanes.get(timeoutMs) ?? this.lane(timeoutMs);
    const handler = new ProbeHandler(timeoutMs, lane, done);
    lane.add(handler);
    if (this.timer === undefined || handler.deadline < this.firesAt) this.arm(handler.deadline, handler.started);
    try {
      lane.agent.dispatch({
        origin: target.origin, path: target.path, method: 'GET', headers: PROBE_HEADERS,
        headersTimeout: timeoutMs, bodyTimeout: timeoutMs, reset: !keepAlive,
      }, handler);
    } catch (err) {
      handler.onResponseError(null, err as Error);
    }
  }

  /** Forget targets of services that are gone (called now and then; a map entry is small). */
  forget(url: string): void {
    this.targets.delete(url);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...this.lanes.values()].map((l) => l.agent.close()));
  }

  private lane(timeoutMs: number): Lane {
    // Probes of one service never overlap, so an origin needs one kept-alive connection per service
    // it hosts (two for a moment when a probe cut while connecting is still being given up); a host
    // serving many services' health endpoints gets at most 8.
    const agent = new Agent({
      keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, pipelining: 1, connections: 8,
      connect: { timeout: Math.min(MAX_DELAY_MS, Math.max(1, Math.ceil(timeoutMs))) },
    });
    const lane = new Lane(agent);
    this.lanes.set(timeoutMs, lane);
    return lane;
  }

  private arm(deadline: number, now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    // Node's timers run on a millisecond clock and may fire up to 1 ms before performance.now()
    // says the time is up: the sweep then re-arms for the rest.
    const delay = Math.min(MAX_DELAY_MS, Math.max(1, Math.ceil(deadline - now)));
    this.firesAt = now + delay;
    this.timer = setTimeout(this.sweep, delay);
    this.timer.unref();
  }

  /** Cut the probes past their deadline, and re-arm for the earliest of the others. */
  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = performance.now();
    let next = Infinity;
    let overdue: ProbeHandler[] | undefined;
    for (const lane of this.lanes.values()) {
      let h = lane.head;
      for (; h && h.deadline <= now; h = h.next) (overdue ??= []).push(h);
      if (h && h.deadline < next) next = h.deadline;
    }
    // Re-armed first, so a `done` that throws cannot leave the rest uncut.
    if (next !== Infinity) this.arm(next, now);
    if (overdue) for (const h of overdue) h.expire();
  };
}

class ProbeHandler implements Dispatcher.DispatchHandler {
  readonly started = performance.now();
  readonly deadline: number;
  /** Neighbours in the lane's list while in flight. */
  prev: ProbeHandler | undefined;
  next: ProbeHandler | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private json = false;
  private size = 0;
  private chunks: Buffer[] = [];
  private finished = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly lane: Lane,
    private readonly done: (o: ProbeOutcome) => void,
  ) {
    this.deadline = this.started + timeoutMs;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Cut while it waited for a connection: the request goes no further, and undici drops the
    // connection it was about to be written to.
    if (this.finished) return controller.abort(this.timeoutError());
    this.controller = controller;
  }

  onResponseStart(_c: unknown, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    this.json = String(headers['content-type'] ?? '').includes('json');
  }

  onResponseData(_c: unknown, chunk: Buffer): void {
    // Only a JSON body can change the verdict; anything else (or too much) is read and dropped.
    if (!this.json || this.finished) return;
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
    const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    this.finish({ ok: false, latencyMs: this.latency(), error: timedOut ? `timed out after ${this.timeoutMs} ms` : code ?? e.message });
  }

  /** The deadline passed: report the timeout now, and abort the request if it is under way. */
  expire(): void {
    if (this.finished) return;
    this.chunks = [];
    this.finish({ ok: false, latencyMs: this.latency(), error: `timed out after ${this.timeoutMs} ms` });
    // Aborted after `done`, so that undici's error (sync or not) finds the probe already finished.
    this.controller?.abort(this.timeoutError());
  }

  private timeoutError(): Error {
    return Object.assign(new Error(`probe timed out after ${this.timeoutMs} ms`), { code: 'PROBE_TIMEOUT' });
  }

  private latency(): number {
    return Math.round((performance.now() - this.started) * 100) / 100;
  }

  private finish(o: ProbeOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.lane.remove(this);
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

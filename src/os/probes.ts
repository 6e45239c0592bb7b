/**
 * HTTP health probes with undici over keep-alive connections. A probe is cut at its timeout;
 * 2xx is healthy unless a JSON body says otherwise ({"status": "unhealthy"}).
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

export interface ProbeOutcome {
  ok: boolean;
  latencyMs: number;
  status?: number;
  error?: string;
}

const BODY_CAP = 64 * 1024;
const HEALTHY_WORDS = new Set(['healthy', 'ok', 'up', 'pass', 'running', 'ready']);

export class Prober {
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, connections: 4, pipelining: 1 });

  async probe(url: string, timeoutMs: number): Promise<ProbeOutcome> {
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const res = await request(url, {
        method: 'GET', dispatcher: this.agent, signal: controller.signal,
        headers: { 'user-agent': 'agent-orchestrator-probe', accept: 'application/json' },
      });
      const body = await readCapped(res.body);
      const latencyMs = round(performance.now() - started);
      if (res.statusCode < 200 || res.statusCode >= 300) return { ok: false, latencyMs, status: res.statusCode, error: `HTTP ${res.statusCode}` };
      const declared = declaredStatus(res.headers['content-type'], body);
      if (declared !== undefined && !HEALTHY_WORDS.has(declared.toLowerCase())) {
        return { ok: false, latencyMs, status: res.statusCode, error: `reported status "${declared}"` };
      }
      return { ok: true, latencyMs, status: res.statusCode };
    } catch (e) {
      const latencyMs = round(performance.now() - started);
      if (controller.signal.aborted) return { ok: false, latencyMs, error: `timed out after ${timeoutMs} ms` };
      const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      return { ok: false, latencyMs, error: err.code ?? err.cause?.code ?? err.message };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    size += chunk.length;
    if (size > BODY_CAP) { body.destroy?.(); break; }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function declaredStatus(contentType: string | string[] | undefined, body: string): string | undefined {
  if (!String(contentType ?? '').includes('json') || !body) return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { status?: unknown }).status === 'string') {
      return (parsed as { status: string }).status;
    }
  } catch { /* not JSON after all: the status code decides */ }
  return undefined;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

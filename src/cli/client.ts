/**
 * The CLI's HTTP client (undici). Every failure becomes a CliError carrying a one-line message
 * and the exit code the CLI ends with:
 *   1  the orchestrator refused the request (409, 400, 5xx ...)
 *   2  usage error (bad arguments)
 *   3  the orchestrator cannot be reached
 *   4  missing or wrong API key (401/403)
 *   5  no such service (404)
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { Target } from './target.js';

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, unauthorized: 4, notFound: 5 } as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'CliError';
  }
}

export interface ApiErrorBody {
  error?: { code?: string; message?: string; field?: string; problems?: Array<{ field?: string; message?: string }> };
}

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  accept?: string;
  /** Error statuses answered like a success (e.g. 503 from /health). */
  allow?: number[];
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** Response headers by lower-case name (a repeated one joined with ", "). */
  headers: Record<string, string>;
}

const CONNECT_TIMEOUT_MS = 5_000;
// Removing a service waits for it to stop (its stop timeout, then SIGKILL): allow for that.
const REQUEST_TIMEOUT_MS = 120_000;

export class Client {
  private readonly agent: Agent;

  constructor(readonly target: Target) {
    this.agent = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS }, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  }

  get url(): string {
    return this.target.url;
  }

  /** Headers that authenticate a request (also used for the WebSocket handshake). */
  authHeaders(): Record<string, string> {
    return this.target.apiKey ? { 'x-api-key': this.target.apiKey } : {};
  }

  async raw(method: Dispatcher.HttpMethod, path: string, opts: CallOptions = {}): Promise<Answer> {
    const url = new URL(this.target.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json', ...this.authHeaders() };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method, headers, body, dispatcher: this.agent });
    } catch (e) {
      throw new CliError(`cannot reach the orchestrator at ${this.target.url}: ${describeNetworkError(e)}`, EXIT.unreachable);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      throw new CliError(`connection to ${this.target.url} lost while reading the answer: ${describeNetworkError(e)}`, EXIT.unreachable);
    }
    const contentType = String(res.headers['content-type'] ?? '');
    if (res.statusCode >= 400 && !opts.allow?.includes(res.statusCode)) throw errorFor(res.statusCode, contentType, text, `${method} ${path}`, this.target);
    const answerHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) answerHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, contentType, text, headers: answerHeaders };
  }

  /** A JSON request: the parsed body of a 2xx answer. */
  async json<T>(method: Dispatcher.HttpMethod, path: string, opts: CallOptions = {}): Promise<T> {
    const answer = await this.raw(method, path, opts);
    return parseJson<T>(answer, this.target.url);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function parseJson<T>(answer: Answer, url: string): T {
  if (!/json/.test(answer.contentType)) throw new CliError(`unexpected ${answer.contentType || 'untyped'} answer from ${url}: is this an orchestrator?`, EXIT.refused);
  try {
    return JSON.parse(answer.text) as T;
  } catch {
    throw new CliError(`malformed JSON from ${url}`, EXIT.refused);
  }
}

function errorFor(status: number, contentType: string, text: string, what: string, target: Target): CliError {
  let body: ApiErrorBody = {};
  if (/json/.test(contentType)) {
    try { body = JSON.parse(text) as ApiErrorBody; } catch { /* not our error shape */ }
  }
  const err = body.error;
  let message = err?.message ?? `${what} answered HTTP ${status}`;
  if (err?.problems && err.problems.length > 1) message = err.problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ');
  else if (err?.field && err.code === 'validation' && !message.startsWith(`${err.field}:`)) message = `${err.field}: ${message}`;
  if (status === 401) {
    const hint = target.apiKey ? 'the API key was not accepted' : 'this orchestrator needs an API key (--api-key or ORCHESTRATOR_API_KEY)';
    return new CliError(`unauthorized: ${hint}`, EXIT.unauthorized);
  }
  if (status === 403) return new CliError(`forbidden: ${message}`, EXIT.unauthorized);
  if (status === 404) return new CliError(err?.code === 'not_found' && err.message ? message : `not found: ${message}`, EXIT.notFound);
  if (status === 429) return new CliError(`rate limited: ${message}`, EXIT.refused);
  return new CliError(`${err?.code ?? `HTTP ${status}`}: ${message}`, EXIT.refused);
}

export function describeNetworkError(e: unknown): string {
  const err = e as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  const code = err.code ?? err.cause?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (is it running? start it with ./start-orchestrator.sh)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host not found';
    case 'UND_ERR_CONNECT_TIMEOUT': return 'connection timed out';
    case 'UND_ERR_HEADERS_TIMEOUT': case 'UND_ERR_BODY_TIMEOUT': return 'no answer in time';
    case 'ECONNRESET': case 'UND_ERR_SOCKET': return 'connection reset';
    default: return err.cause?.message ?? err.message ?? String(e);
  }
}

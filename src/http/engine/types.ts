/**
 * The small interface between the HTTP side (routes, security, the /ws feed — written once, in
 * server.ts and ws.ts) and the plumbing that speaks HTTP and WebSocket: native uWebSockets.js
 * (uws.ts) or Node's http + the ws package (node.ts). An engine routes nothing and checks nothing;
 * it hands every request to one handler and carries frames to topics.
 */

export type EngineName = 'uws' | 'node';

/** Everything about a request, read synchronously (uWS forbids touching it after return). */
export interface RawRequest {
  /** Lower-case method: get, head, post, … */
  method: string;
  /** The path, without the query. */
  path: string;
  /** The query string, without '?'. */
  query: string;
  /** Header values by lower-case name ('' when absent). */
  header(name: string): string;
  /** Bytes of all header lines (names, values and separators): the 431 check. */
  headerBytes: number;
  /** The peer's address as text. */
  ip: string;
}

export type Headers = Array<[string, string]>;

/** A response that may still be written; the engine drops writes after an abort. */
export interface RawResponse {
  /** Called once if the client goes away before the response is written. */
  onAborted(cb: () => void): void;
  /** The request body in chunks; a chunk is only valid during the call (copy it to keep it). */
  onData(cb: (chunk: Uint8Array, isLast: boolean) => void): void;
  /**
   * Write the whole response at once. `body` null means no body; `headLength` answers a HEAD with
   * the Content-Length the GET would have had.
   */
  respond(status: number, headers: Headers, body: string | Uint8Array | null, headLength?: number): void;
  /**
   * Start a streamed response instead (server-sent events): the status and headers go out at once,
   * the body in chunks after. Null when the response was already written or aborted.
   */
  stream(status: number, headers: Headers): ResponseStream | null;
}

/** The body of a streamed response, written chunk by chunk; nothing is written after end or an abort. */
export interface ResponseStream {
  /**
   * Queue a chunk. False: the client is not keeping up and the chunk waits in the engine's buffer;
   * write the next one only after `onWritable` fired (backpressure), or the buffer only grows.
   */
  write(chunk: Uint8Array): boolean;
  /** Called once, when the engine's buffer drained after a write returned false. */
  onWritable(cb: () => void): void;
  /** Finish the response (the last chunk of a chunked body). */
  end(): void;
}

/** One WebSocket connection; `data` is what the upgrade handler attached to it. */
export interface WsConnection<D> {
  readonly data: D;
  /** Send a text frame. */
  send(frame: string): void;
  /** Run fn with the connection's writes gathered into as few syscalls as the engine can. */
  cork(fn: () => void): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  topics(): string[];
  /** Bytes queued for this client and not yet taken by the kernel. */
  bufferedAmount(): number;
  /** Close with a code and reason (a close frame, then the socket goes). */
  end(code: number, reason: string): void;
}

export type UpgradeDecision<D> =
  | { accept: D; protocol: string }
  | { deny: { status: number; headers: Headers; body: string } };

export interface WsOptions<D> {
  /** A message over this many bytes closes the connection. */
  maxPayloadLength: number;
  /** Seconds without traffic before the engine pings and, with no answer, closes. */
  idleTimeout: number;
  /** Hard backstop: a connection with more than this queued is closed, never silently skipped. */
  maxBackpressure: number;
  upgrade(req: RawRequest, offeredProtocols: string[]): UpgradeDecision<D>;
  open(ws: WsConnection<D>): void;
  message(ws: WsConnection<D>, message: Uint8Array, isBinary: boolean): void;
  close(ws: WsConnection<D>, code: number): void;
  /** Subscriber counts of a topic changed (subscribe, unsubscribe, or a closing connection). */
  subscription?(topic: string, newCount: number, oldCount: number): void;
}

export interface Engine {
  readonly name: EngineName;
  /** Every HTTP request that is not a WebSocket upgrade on the ws path. */
  onRequest(handler: (req: RawRequest, res: RawResponse) => void): void;
  ws<D>(path: string, opts: WsOptions<D>): void;
  /** Send a text frame to every subscriber of a topic. */
  publish(topic: string, frame: string): void;
  numSubscribers(topic: string): number;
  /** Resolve with the bound port; reject when the address is taken or not available. */
  listen(host: string, port: number): Promise<number>;
  /** Stop listening and drop every connection. */
  close(): void;
}

/** HTTP limits both engines enforce before any handler runs. */
export const LIMITS = {
  /** Request target (path + query) over this → 414. */
  maxUrlBytes: 8 * 1024,
  /** All header lines together over this → 431. */
  maxHeaderBytes: 16 * 1024,
};

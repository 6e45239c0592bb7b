/** Assembles the HTTP side: security, REST routes, the /ws feed, live log tails and the dashboard. */
import type { Logger } from 'pino';
import type { HttpPorts } from './ports.js';
import type { Stream } from '../os/logs.js';
import { createEngine, type EngineName } from './engine/index.js';
import { apiRoutes } from './routes.js';
import { createSecurity, HttpServer } from './server.js';
import { staticRoutes } from './static.js';
import { Feed, type FeedOptions } from './ws.js';
import { McpHttp } from '../mcp/http.js';

export interface HttpHandle {
  port: number;
  /** Which engine serves: native uWebSockets.js or Node's http + ws. */
  engine: EngineName;
  server: HttpServer;
  feed: Feed;
  /** The MCP server at /mcp (null with mcp.enabled false). */
  mcp: McpHttp | null;
  close(): void;
}

export interface HttpOptions {
  publicDir: string;
  feed?: FeedOptions;
}

/** Bind first (so a busy port fails before any service starts), then attach the orchestrator. */
export async function listen(o: HttpPorts, log: Logger, opts: HttpOptions): Promise<HttpHandle> {
  const httpLog = log.child({ component: 'http' });
  const { engine, reason } = await createEngine(o.config.orchestrator.http_engine);
  httpLog.info({ engine: engine.name, reason }, `HTTP engine: ${engine.name}`);
  const server = new HttpServer(engine, createSecurity(o.config), httpLog);
  const feed: Feed = new Feed(engine, server.sec, o, log.child({ component: 'ws' }), {
    ...opts.feed,
    // A subscription may come before the service is registered: follow by id all the same.
    onLogInterest: (service, interested) => (interested ? o.logs.follow(service) : o.logs.unfollow(service)),
  });
  const mcp = o.config.mcp.enabled ? new McpHttp(o, log.child({ component: 'mcp' })) : null;
  for (const route of [...apiRoutes(o, engine.name), ...(mcp?.routes() ?? []), ...staticRoutes(opts.publicDir)]) server.route(route);
  const onEvent = feed.publishEvent.bind(feed);
  const onViews = feed.publishViews.bind(feed);
  const onLines = (service: string, stream: Stream, lines: string[]) => feed.publishLog(service, stream, lines);
  const detach = () => {
    o.feed.history.off('event', onEvent);
    o.feed.views.off('views', onViews);
    o.feed.lines.off('lines', onLines);
  };
  o.feed.history.on('event', onEvent);
  o.feed.views.on('views', onViews);
  o.feed.lines.on('lines', onLines);
  let port: number;
  try {
    port = await server.listen(o.config.orchestrator.host, o.config.orchestrator.port);
  } catch (e) {
    detach();
    mcp?.close();
    feed.close();
    server.close();
    throw e;
  }
  o.status.listening(port);
  return {
    port, engine: engine.name, server, feed, mcp,
    close: () => {
      detach();
      mcp?.close();
      feed.close();
      server.close();
    },
  };
}

/** Assembles the HTTP side: security, REST routes, the /ws feed, live log tails and the dashboard. */
import type { Logger } from 'pino';
import type { Orchestrator } from '../orchestrator.js';
import type { Stream } from '../os/logs.js';
import { apiRoutes } from './routes.js';
import { createSecurity, HttpServer } from './server.js';
import { staticRoutes } from './static.js';
import { Feed, type FeedOptions } from './ws.js';

export interface HttpHandle {
  port: number;
  server: HttpServer;
  feed: Feed;
  close(): void;
}

export interface HttpOptions {
  publicDir: string;
  feed?: FeedOptions;
}

/** Bind first (so a busy port fails before any service starts), then attach the orchestrator. */
export async function listen(o: Orchestrator, log: Logger, opts: HttpOptions): Promise<HttpHandle> {
  const server = new HttpServer(createSecurity(o.config), log.child({ component: 'http' }));
  const feed: Feed = new Feed(server.app, server.sec, o, log.child({ component: 'ws' }), {
    ...opts.feed,
    // A subscription may come before the service is registered: follow by id all the same.
    onLogInterest: (service, interested) => (interested ? o.logs.follow(service) : o.logs.unfollow(service)),
  });
  for (const route of [...apiRoutes(o), ...staticRoutes(opts.publicDir)]) server.route(route);
  server.fallbacks();
  const onEvent = feed.publishEvent.bind(feed);
  const onViews = feed.publishViews.bind(feed);
  const onLines = (service: string, stream: Stream, lines: string[]) => feed.publishLog(service, stream, lines);
  o.on('event', onEvent);
  o.on('views', onViews);
  o.on('lines', onLines);
  const port = await server.listen(o.config.orchestrator.host, o.config.orchestrator.port);
  return {
    port, server, feed,
    close: () => {
      o.off('event', onEvent);
      o.off('views', onViews);
      o.off('lines', onLines);
      feed.close();
      server.close();
    },
  };
}

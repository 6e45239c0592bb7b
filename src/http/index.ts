/** Assembles the HTTP side: security, REST routes, the /ws feed, live log tails and the dashboard. */
import type { Logger } from 'pino';
import type { Orchestrator } from '../orchestrator.js';
import { LiveTail } from '../os/live-tail.js';
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
  const tail = new LiveTail(o.config.orchestrator.log_dir, (service, stream, lines) => feed.publishLog(service, stream, lines));
  const feed: Feed = new Feed(server.app, server.sec, o, log.child({ component: 'ws' }), {
    ...opts.feed,
    onLogInterest: (service, interested) => (interested && o.has(service) ? tail.follow(service) : tail.unfollow(service)),
  });
  for (const route of [...apiRoutes(o), ...staticRoutes(opts.publicDir)]) server.route(route);
  server.fallbacks();
  const onEvent = feed.publishEvent.bind(feed);
  const onViews = feed.publishViews.bind(feed);
  o.on('event', onEvent);
  o.on('views', onViews);
  const port = await server.listen(o.config.orchestrator.host, o.config.orchestrator.port);
  return {
    port, server, feed,
    close: () => {
      o.off('event', onEvent);
      o.off('views', onViews);
      tail.close();
      feed.close();
      server.close();
    },
  };
}

/**
 * `orchestrator dashboard`: serves the dashboard (public/) on its own port — 3000, as in the seed —
 * plus /config.json telling it where the orchestrator's API is. The dashboard then talks to the
 * orchestrator cross-origin, so the orchestrator's api.cors_origins must list this origin.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAssets } from '../../http/static.js';
import { createLog } from '../../log.js';
import { int, positionals, str, UsageError } from '../args.js';
import { CliError, EXIT } from '../client.js';
import { type Command, withCommon } from '../context.js';
import { resolveTarget } from '../target.js';

/** public/ of this installation (dist/cli.js and src/cli/commands/*.ts both find it). */
export function findPublicDir(): string {
  const candidates = ['../public/', '../../public/', '../../../public/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
}

export interface DashboardOptions {
  port: number;
  host: string;
  apiBase: string;
  publicDir: string;
}

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

export function startDashboard(opts: DashboardOptions, onRequest?: (method: string, path: string, status: number) => void): Promise<DashboardServer> {
  const assets = loadAssets(opts.publicDir);
  const api = new URL(opts.apiBase);
  const wsOrigin = `${api.protocol === 'https:' ? 'wss:' : 'ws:'}//${api.host}`;
  const csp = `default-src 'self'; connect-src 'self' ${api.origin} ${wsOrigin}; img-src 'self' data:; style-src 'self' 'unsafe-inline'`;
  const config = Buffer.from(JSON.stringify({ apiBase: opts.apiBase }));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
    const send = (status: number, body: Buffer | string, type: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'x-content-type-options': 'nosniff', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
      onRequest?.(req.method ?? 'GET', path, status);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', 'text/plain; charset=utf-8', { allow: 'GET, HEAD' });
    if (path === '/config.json') return send(200, config, 'application/json', { 'cache-control': 'no-cache' });
    const asset = assets.get(path === '/' ? '/index.html' : path);
    if (!asset) return send(404, 'not found\n', 'text/plain; charset=utf-8');
    const headers: Record<string, string> = { etag: asset.etag, 'cache-control': path.startsWith('/dist/') ? 'public, max-age=300' : 'no-cache' };
    if (asset.type.startsWith('text/html')) Object.assign(headers, { 'content-security-policy': csp, 'x-frame-options': 'DENY' });
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      onRequest?.(req.method, path, 304);
      return;
    }
    if (asset.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      return send(200, asset.gzip, asset.type, { ...headers, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
    }
    send(200, asset.body, asset.type, headers);
  };

  const server = createServer(handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const addr = server.address() as { port: number };
      const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
      resolve({
        url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`,
        close: () => new Promise<void>((done) => { server.close(() => done()); server.closeAllConnections(); }),
      });
    });
  });
}

const dashboard: Command = {
  name: 'dashboard',
  usage: 'dashboard [--port 3000] [--host 127.0.0.1] [--api URL]',
  summary: 'serve the web dashboard on its own port, talking to the orchestrator at --api',
  flags: withCommon({ port: { value: true, aliases: ['-p'] }, host: { value: true }, api: { value: true } }),
  async run(ctx) {
    positionals(ctx.args, []);
    const port = int(ctx.args, 'port', Number(process.env.DASHBOARD_PORT ?? 3000), 0, 65535);
    const host = str(ctx.args, 'host') ?? process.env.DASHBOARD_HOST ?? '127.0.0.1';
    const apiBase = str(ctx.args, 'api') ?? resolveTarget({ url: str(ctx.args, 'url'), config: str(ctx.args, 'config') }).url;
    try { new URL(apiBase); } catch { throw new UsageError(`--api must be a URL, got "${apiBase}"`); }
    const publicDir = findPublicDir();
    const log = createLog({ level: 'info', stdout: true }).logger.child({ component: 'dashboard' });
    let server: DashboardServer;
    try {
      server = await startDashboard({ port, host, apiBase, publicDir }, (method, path, status) => {
        if (status >= 400) log.warn({ method, path, status }, 'request');
        else log.debug({ method, path, status }, 'request');
      });
    } catch (e) {
      throw new CliError(`cannot serve the dashboard on ${host}:${port}: ${(e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address in use' : (e as Error).message}`, EXIT.refused);
    }
    if (!existsSync(join(publicDir, 'index.html'))) log.warn({ publicDir }, 'public/index.html is missing: run `npm run build`');
    log.info({ url: server.url, api: apiBase, pid: process.pid }, `dashboard on ${server.url} (orchestrator API ${apiBase})`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'dashboard stopping');
        void server.close().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  },
};

export const dashboardCommands: Command[] = [dashboard];

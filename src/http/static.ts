/**
 * The dashboard's files from public/: read once at start, gzip-compressed once, served from memory
 * with ETags. index.html for "/"; everything else by exact path under public/.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Request, Result, Route } from './server.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.map': 'application/json',
  '.webmanifest': 'application/manifest+json', '.txt': 'text/plain; charset=utf-8',
};

interface Asset { body: Buffer; gzip: Buffer | null; type: string; etag: string }

/** Files served: everything under public/ except the dashboard's TypeScript sources. */
export function loadAssets(publicDir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(publicDir)) return assets;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const rel = relative(publicDir, full).split(sep).join('/');
      if (statSync(full).isDirectory()) { if (rel !== 'src') walk(full); continue; }
      const type = TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(full);
      const gzip = body.length > 1024 && !type.startsWith('image/png') ? gzipSync(body, { level: 9 }) : null;
      assets.set(`/${rel}`, { body, gzip, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` });
    }
  };
  walk(publicDir);
  return assets;
}

export function staticRoutes(publicDir: string): Route[] {
  const assets = loadAssets(publicDir);
  const serve = (path: string) => (req: Request): Result => {
    const asset = assets.get(path === '/' ? '/index.html' : path);
    if (!asset) return { status: 404, text: 'not found\n', contentType: 'text/plain; charset=utf-8' };
    const headers: Array<[string, string]> = [['etag', asset.etag], ['cache-control', path.startsWith('/dist/') ? 'public, max-age=300' : 'no-cache']];
    if (asset.type.startsWith('text/html')) {
      headers.push(['content-security-policy', "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'"]);
      headers.push(['x-frame-options', 'DENY']);
    }
    if (req.headers.ifNoneMatch === asset.etag) return { status: 304, text: '', contentType: asset.type, headers };
    if (asset.gzip && /\bgzip\b/.test(req.headers.acceptEncoding)) {
      return { status: 200, text: asset.gzip, contentType: asset.type, headers: [...headers, ['content-encoding', 'gzip'], ['vary', 'Accept-Encoding']] };
    }
    return { status: 200, text: asset.body, contentType: asset.type, headers };
  };
  const paths = new Set(['/', ...assets.keys()]);
  return [...paths].map((path): Route => ({ method: 'get', pattern: path, public: true, unlimited: true, handler: serve(path) }));
}

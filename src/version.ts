import { existsSync, readFileSync } from 'node:fs';

let cached: string | undefined;
/**
 * The package version: package.json one level above src/ and dist/, or two above dist/chunks/
 * (esbuild moves a module shared with a lazily loaded one into a chunk).
 */
export function version(): string {
  if (cached === undefined) {
    const file = ['../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u))!;
    cached = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return cached;
}

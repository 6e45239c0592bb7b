// A module load hook (registered by ts-loader.mjs after tsx, so it sees tsx's output): a .ts
// module's inline source map gets the file's text as sourcesContent, which c8 needs to report
// coverage by the TypeScript source.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const INLINE = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.startsWith('file:') || !/\.[cm]?tsx?$/.test(new URL(url).pathname) || result.source == null) return result;
  const code = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  const m = INLINE.exec(code);
  if (!m) return result;
  const map = JSON.parse(Buffer.from(m[1], 'base64').toString('utf8'));
  if (map.sources?.length !== 1 || map.sourcesContent?.[0]) return result;
  map.sourcesContent = [await readFile(fileURLToPath(url), 'utf8')];
  const inline = Buffer.from(JSON.stringify(map)).toString('base64');
  return { ...result, source: `${code.slice(0, m.index)}//# sourceMappingURL=data:application/json;base64,${inline}\n` };
}

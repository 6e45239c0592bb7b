// A native uWebSockets.js for this Node, for the bench's floors. Kept apart from orchestrator.mjs so a
// floor process loads nothing else.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A native uWebSockets.js for this Node, loaded the way src/http/engine/uws.ts load() does: the
 * binary itself (uws_<platform>_<arch>_<abi>.node), never a package's main, whose fallback stub
 * (on Node 22+ for uWebSockets.js 20.30) throws at the first event. { uws, from } or { reason }.
 */
export function loadNativeUws() {
  const require = createRequire(join(ROOT, 'package.json'));
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const tried = [];
  for (const pkg of ['uWebSockets.js', '@btc-vision/uwebsockets.js']) {
    let dir;
    try { dir = dirname(require.resolve(`${pkg}/package.json`)); } catch { tried.push(`${pkg}: not installed`); continue; }
    const file = [join(dir, binary), join(dir, 'binaries', binary)].find((f) => existsSync(f));
    if (!file) { tried.push(`${pkg}: no ${binary}`); continue; }
    try { return { uws: require(file), from: file }; } catch (e) { tried.push(`${pkg}: ${e.message.split('\n')[0]}`); }
  }
  return { uws: null, reason: `no native uWebSockets.js for Node ${process.version} (ABI ${process.versions.modules}): ${tried.join('; ')}` };
}

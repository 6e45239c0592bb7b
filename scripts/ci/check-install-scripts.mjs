#!/usr/bin/env node
// Fails (exit 1) when the dependency tree holds a package with an install script that package.json's
// `allowScripts` neither allows (`true`) nor denies (`false`): a new, unreviewed install script must
// be looked at by a person before CI goes green.
//
//   node scripts/ci/check-install-scripts.mjs [--dir PROJECT] [--lockfile-only] [--quiet]
//
// What counts as an install script is what npm (>= 11.16; blocking by default from npm 12) gates:
// `preinstall`, `install`, `postinstall`; the implicit `node-gyp rebuild` of a package that ships a
// binding.gyp without its own install/preinstall script (even with "gypfile": false, as npm's
// `install-scripts ls` does); and `prepare` of a git/file/remote dependency. Packages are found in
// package-lock.json (entries marked hasInstallScript, so this also works before `npm ci` and sees
// optional packages for other platforms) and in the installed node_modules tree (the scripts' real
// text). Bundled dependencies are skipped: npm never runs their scripts.
//
// allowScripts keys are matched the way npm matches them (@npmcli/arborist script-allowed.js):
//   "name"                   every version (the only form that works with this project's lockfile:
//                            it has no `resolved` URLs, npm config omit-lockfile-registry-resolved,
//                            and then npm cannot verify a version, so it refuses pinned approvals)
//   "name@1.2.3" / "name@1.2.3 || 1.2.4"   pinned; needs `resolved` URLs in package-lock.json
//   "@scope/name", aliases by their real name (an "npm:" alias key never matches)
// A deny (false) wins over an allow. Ranges (^, ~, >=) and dist-tags are ignored by npm: an entry
// using one is reported as an error here, as is a non-boolean value.
//
// Exit: 0 every install script is reviewed; 1 something is unreviewed or an entry cannot work;
// 2 usage error or unreadable package.json.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let lockfileOnly = false;
let quiet = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = resolve(args[++i] ?? '');
  else if (a.startsWith('--dir=')) dir = resolve(a.slice(6));
  else if (a === '--lockfile-only') lockfileOnly = true;
  else if (a === '--quiet' || a === '-q') quiet = true;
  else if (a === '--help' || a === '-h') {
    console.log('usage: check-install-scripts.mjs [--dir PROJECT] [--lockfile-only] [--quiet]');
    process.exit(0);
  } else {
    console.error(`check-install-scripts: unknown argument ${a}`);
    process.exit(2);
  }
}

const TAG = 'check-install-scripts';
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

let pkg;
try {
  pkg = readJson(join(dir, 'package.json'));
} catch (e) {
  console.error(`${TAG}: cannot read ${join(dir, 'package.json')}: ${e.message}`);
  process.exit(2);
}

// ---- the policy -------------------------------------------------------------------------------
const SEMVER = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const problems = []; // entries of allowScripts that cannot work as written

/** Splits a policy key into { name, spec } ("@scope/x@1.2.3" -> "@scope/x", "1.2.3"). */
function splitKey(key) {
  const at = key.indexOf('@', key.startsWith('@') ? 1 : 0);
  return at < 0 ? { name: key, spec: '' } : { name: key.slice(0, at), spec: key.slice(at + 1).trim() };
}

const NON_REGISTRY = /^(?:git\+|git:|github:|gitlab:|bitbucket:|gist:|file:|link:|https?:|\.{0,2}\/)/;
const rawPolicy = pkg.allowScripts ?? {};
if (typeof rawPolicy !== 'object' || Array.isArray(rawPolicy) || rawPolicy === null) {
  console.error(`${TAG}: package.json "allowScripts" must be an object of "package": true|false`);
  process.exit(1);
}
const policy = []; // { key, allow, kind: 'name'|'pinned'|'source', name, versions, source }
for (const [key, value] of Object.entries(rawPolicy)) {
  if (value !== true && value !== false) {
    problems.push(`"${key}": ${JSON.stringify(value)} — the value must be true (allow) or false (deny)`);
    continue;
  }
  const allow = value;
  const bareSource = key.replace(/^(?:@[^/@]+\/)?[^/@]+@(?=[a-z+]+:)/i, '');
  if (NON_REGISTRY.test(key) || NON_REGISTRY.test(bareSource)) {
    policy.push({ key, allow, kind: 'source', source: NON_REGISTRY.test(key) ? key : bareSource });
    continue;
  }
  const { name, spec } = splitKey(key);
  if (!name || /\s/.test(name)) {
    problems.push(`"${key}" — not a package name`);
  } else if (spec.startsWith('npm:')) {
    problems.push(`"${key}" — npm never matches an alias key; name the real package (${splitKey(spec.slice(4)).name})`);
  } else if (spec === '' || spec === '*') {
    policy.push({ key, allow, kind: 'name', name });
  } else {
    const versions = spec.split('||').map((s) => s.trim());
    if (versions.every((v) => SEMVER.test(v))) {
      policy.push({ key, allow, kind: 'pinned', name, versions: versions.map((v) => v.replace(/^v/, '')) });
    } else {
      problems.push(`"${key}" — npm ignores ranges and dist-tags here; use "${name}" or exact versions joined by "||"`);
    }
  }
}

// ---- the packages -------------------------------------------------------------------------------
const REGISTRY_TARBALL = /^https?:\/\/[^/]+\/(.+)\/-\/[^/]+-(\d[^/]*)\.tgz(?:[?#].*)?$/;

/** Name a node_modules path installs: "node_modules/a/node_modules/@s/b" -> "@s/b". */
function nameFromPath(p) {
  const parts = p.split('node_modules/');
  return parts[parts.length - 1].replace(/\/$/, '');
}

const nodes = new Map(); // location ("node_modules/x") -> node

let lock = null;
for (const file of ['npm-shrinkwrap.json', 'package-lock.json']) {
  if (existsSync(join(dir, file))) {
    try {
      lock = readJson(join(dir, file));
    } catch (e) {
      console.error(`${TAG}: cannot read ${file}: ${e.message}`);
      process.exit(2);
    }
    break;
  }
}
if (lock && !lock.packages) {
  console.error(`${TAG}: the lockfile has no "packages" section (lockfileVersion ${lock.lockfileVersion}); run npm install with npm >= 7`);
  process.exit(2);
}
if (!lock && lockfileOnly) {
  console.error(`${TAG}: --lockfile-only, but ${dir} has no package-lock.json`);
  process.exit(2);
}

for (const [location, entry] of Object.entries(lock?.packages ?? {})) {
  if (!location.startsWith('node_modules/') && !location.includes('/node_modules/')) continue; // root, workspaces
  if (entry.link) continue; // a link's target is its own entry (a workspace folder)
  const resolvedUrl = typeof entry.resolved === 'string' ? entry.resolved : null;
  const m = resolvedUrl && REGISTRY_TARBALL.exec(resolvedUrl);
  const registry = resolvedUrl ? !!m : !!entry.version;
  nodes.set(location, {
    location,
    // Trusted identity, as npm takes it: from the resolved URL when there is one, else from the
    // spec that asked for it (the lockfile's "name" for an alias, the install folder otherwise).
    name: m ? decodeURIComponent(m[1]) : (entry.name ?? nameFromPath(location)),
    version: m ? m[2] : null,
    shownVersion: entry.version ?? null,
    registry,
    resolved: resolvedUrl,
    inBundle: !!entry.inBundle,
    lockSaysScripts: !!entry.hasInstallScript,
    platform: entry.os || entry.cpu || entry.libc ? [entry.os, entry.cpu, entry.libc].flat().filter(Boolean).join(',') : null,
    scripts: null,
  });
}

/** The install-relevant scripts of an installed package folder, or null if it is not installed. */
function installScripts(folder, registry) {
  let pj;
  try {
    pj = readJson(join(folder, 'package.json'));
  } catch {
    return null;
  }
  const s = pj.scripts ?? {};
  const out = {};
  for (const ev of ['preinstall', 'install', 'postinstall']) if (s[ev]) out[ev] = s[ev];
  if (s.prepare && !registry) out.prepare = s.prepare;
  // A binding.gyp means an implicit `node-gyp rebuild`. `"gypfile": false` is not honoured on
  // purpose: npm 11.19 / 12.2 `install-scripts ls` lists such packages too (arborist's actual-tree
  // load drops the field), e.g. better-sqlite3 13, so npm asks for an allowScripts entry anyway.
  if (!out.preinstall && !out.install && existsSync(join(folder, 'binding.gyp'))) {
    out.install = 'node-gyp rebuild';
  }
  return { scripts: out, name: pj.name, version: pj.version };
}

if (!lockfileOnly && existsSync(join(dir, 'node_modules'))) {
  // Walk node_modules (nested ones too); a package found here but not in the lockfile is taken by
  // the name in its own package.json (less trustworthy, but better than not looking at it).
  const bundledHere = new Set();
  const walk = (nm) => {
    let names;
    try {
      names = readdirSync(nm, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      if (d.name.startsWith('.')) continue;
      const full = join(nm, d.name);
      if (d.name.startsWith('@') && d.isDirectory()) {
        walk(full);
        continue;
      }
      if (!d.isDirectory()) continue; // symlinks are links (workspaces): skipped, as npm does
      const location = relative(dir, full).split(sep).join('/');
      const found = installScripts(full, nodes.get(location)?.registry ?? true);
      if (!found) continue;
      let node = nodes.get(location);
      if (!node) {
        const parent = location.slice(0, location.lastIndexOf('/node_modules/'));
        node = {
          location, name: found.name ?? nameFromPath(location), version: null, shownVersion: found.version ?? null,
          registry: true, resolved: null, inBundle: bundledHere.has(parent), lockSaysScripts: false, platform: null,
          scripts: null, notInLock: true,
        };
        nodes.set(location, node);
      }
      node.scripts = found.scripts;
      // Dependencies bundled inside a package: everything under a package whose own package.json
      // lists them in bundleDependencies; the lockfile marks them inBundle already.
      if (node.inBundle) bundledHere.add(location);
      walk(join(full, 'node_modules'));
    }
  };
  walk(join(dir, 'node_modules'));
}

// ---- matching -----------------------------------------------------------------------------------
function verdict(node) {
  let allow = false;
  let deny = false;
  const refusedPins = [];
  for (const e of policy) {
    let hit = false;
    if (e.kind === 'source') {
      if (!node.registry && node.resolved) {
        const [keyRepo, keyRef] = e.source.split('#');
        const [nodeRepo, nodeRef = ''] = node.resolved.split('#');
        // git: the lockfile's full commit must start with the key's (short) commit; no commit in
        // the key matches any commit of that repository. file:/remote: the exact resolved spec.
        hit = keyRepo === nodeRepo && (keyRef === undefined || nodeRef.startsWith(keyRef));
      }
    } else if (node.registry && e.name === node.name) {
      if (e.kind === 'name') hit = true;
      else if (node.version === null) {
        // Unverifiable version: npm lets a pinned deny block and refuses a pinned allow.
        if (e.allow) refusedPins.push(e.key);
        else hit = true;
      } else hit = e.versions.includes(node.version);
    }
    if (hit) {
      e.used = true;
      if (e.allow) allow = true;
      else deny = true;
    }
  }
  return { state: deny ? 'denied' : allow ? 'allowed' : 'unreviewed', refusedPins };
}

const label = (n) => `${n.name}@${n.version ?? n.shownVersion ?? '?'}`;
const describe = (n) => {
  if (n.scripts && Object.keys(n.scripts).length) return Object.entries(n.scripts).map(([k, v]) => `${k}: ${v}`).join('; ');
  return n.platform ? `install script per package-lock.json; not installed here (${n.platform} only)`
    : 'install script per package-lock.json; not installed here';
};

const withScripts = [...nodes.values()].filter((n) => !n.inBundle &&
  (n.scripts ? Object.keys(n.scripts).length > 0 : n.lockSaysScripts));

const allowed = [];
const denied = [];
const unreviewed = [];
for (const n of withScripts) {
  const v = verdict(n);
  if (v.state === 'allowed') allowed.push(n);
  else if (v.state === 'denied') denied.push(n);
  else unreviewed.push({ n, refusedPins: v.refusedPins });
}
// A package whose install script went away is no problem; an entry that names nothing is stale.
const stale = policy.filter((e) => !e.used).map((e) => e.key);

const uniq = (list) => [...new Set(list)];
if (unreviewed.length || problems.length) {
  const out = [];
  if (unreviewed.length) {
    out.push(`${TAG}: ${unreviewed.length} package${unreviewed.length > 1 ? 's have' : ' has'} an install script that package.json "allowScripts" neither allows nor denies:`);
    for (const { n, refusedPins } of unreviewed) {
      out.push(`  ${label(n)}  (${n.location})  ${describe(n)}`);
      for (const key of refusedPins) {
        out.push(`    "${key}" does not cover it: package-lock.json has no "resolved" URL for it, so npm cannot verify the version and refuses a pinned approval; write "${n.name}": true instead`);
      }
      if (n.notInLock) out.push('    (installed but not in package-lock.json: is the lockfile up to date?)');
    }
    const names = uniq(unreviewed.map(({ n }) => n.name)).join(' ');
    out.push('', 'Read what each script does, then record the decision (and commit package.json):',
      `  npm install-scripts approve --no-allow-scripts-pin ${names}   # needed: the package does not work without it`,
      `  npm install-scripts deny ${names}                            # not needed: npm skips it`,
      'or add "name": true / "name": false under "allowScripts" in package.json by hand.');
  }
  if (problems.length) {
    if (out.length) out.push('');
    out.push(`${TAG}: package.json "allowScripts" has entries that npm ignores or cannot match:`);
    for (const p of problems) out.push(`  ${p}`);
  }
  console.error(out.join('\n'));
  process.exit(1);
}

if (!quiet) {
  const names = (list) => uniq(list.map(label)).join(', ') || 'none';
  console.log(`${TAG}: ${withScripts.length} package${withScripts.length === 1 ? '' : 's'} with install scripts, all reviewed` +
    `${lockfileOnly ? ' (package-lock.json only)' : ''}. Allowed: ${names(allowed)}. Denied: ${names(denied)}.`);
  if (stale.length) console.log(`${TAG}: note: allowScripts entries that match no package with an install script: ${stale.join(', ')} (npm install-scripts prune removes them)`);
}

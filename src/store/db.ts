/**
 * Opening the registry: better-sqlite3 in WAL mode, migrated to the latest schema. The main
 * thread is its only writer. WAL plus transactions mean a kill -9 at any moment leaves it
 * consistent; an exclusive lock means a second orchestrator on the same registry is refused
 * instead of double-starting every service.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type DB = Database.Database;

export class RegistryError extends Error {
  constructor(message: string, readonly code: 'locked' | 'corrupt' | 'newer' | 'io') {
    super(message);
    this.name = 'RegistryError';
  }
}

export function openRegistry(path: string): DB {
  mkdirSync(dirname(path), { recursive: true });
  let db: DB;
  try {
    db = new Database(path, { timeout: 200 });
  } catch (e) {
    throw new RegistryError(`cannot open registry ${path}: ${(e as Error).message}`, 'io');
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Take the exclusive lock now, not at the first write.
    db.exec('BEGIN IMMEDIATE; COMMIT;');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new RegistryError(`registry ${path} is corrupt (quick_check: ${summariseCheck(String(check))}); move it aside to start with an empty one`, 'corrupt');
    migrate(db, path);
  } catch (e) {
    db.close();
    if (e instanceof RegistryError) throw e;
    const err = e as Error & { code?: string };
    if (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED') {
      throw new RegistryError(`registry ${path} is locked: another orchestrator is using it`, 'locked');
    }
    if (err.code === 'SQLITE_CORRUPT' || err.code === 'SQLITE_NOTADB') {
      throw new RegistryError(`registry ${path} is corrupt or not a database (${err.message}); move it aside to start with an empty one`, 'corrupt');
    }
    throw new RegistryError(`cannot open registry ${path}: ${err.message}`, 'io');
  }
  return db;
}

/** quick_check's report on one line: its first problem and how many more (it lists one per line). */
function summariseCheck(report: string): string {
  const problems = report.split('\n').map((l) => l.trim()).filter((l) => l && !/^\*\*\* in database \w+ \*\*\*$/.test(l));
  if (problems.length === 0) return report.trim();
  return problems.length === 1 ? problems[0]! : `${problems[0]!}, and ${problems.length - 1} more`;
}

function migrate(db: DB, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  // A new registry gives freed pages back to the file system as history is pruned.
  if (current === 0) db.pragma('auto_vacuum = INCREMENTAL');
  if (current > MIGRATIONS.length) {
    throw new RegistryError(`registry ${path} has schema version ${current}, newer than this orchestrator understands (${MIGRATIONS.length})`, 'newer');
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

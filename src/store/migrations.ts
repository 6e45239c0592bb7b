/**
 * Versioned schema migrations. Each entry moves the registry from version i to i+1 and runs in
 * one transaction; PRAGMA user_version records where a database is.
 */
export const MIGRATIONS: string[] = [
  // 1: services, the pid ledger (runs), the event log
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE services (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL CHECK (source IN ('file', 'api')),
    spec TEXT NOT NULL,
    want TEXT NOT NULL DEFAULT 'up' CHECK (want IN ('up', 'down')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    run_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pgid INTEGER NOT NULL,
    proc_start INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    exit_code INTEGER,
    signal TEXT,
    reason TEXT
  );
  CREATE INDEX runs_open ON runs (service) WHERE ended_at IS NULL;
  CREATE INDEX runs_by_service ON runs (service, id);
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    service TEXT,
    type TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX events_by_service ON events (service, seq);
  `,
  // 2: what a service's actor last knew, so a restarted orchestrator remembers failures and counters
  `
  ALTER TABLE services ADD COLUMN state TEXT;
  ALTER TABLE services ADD COLUMN reason TEXT;
  ALTER TABLE services ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE services ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE services ADD COLUMN last_exit TEXT;
  `,
  // 3: resource history in per-minute buckets; events by time for retention
  `
  CREATE TABLE samples (
    service TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    cpu_avg REAL NOT NULL,
    cpu_max REAL NOT NULL,
    rss_avg REAL NOT NULL,
    rss_max INTEGER NOT NULL,
    PRIMARY KEY (service, bucket)
  ) WITHOUT ROWID;
  CREATE INDEX samples_by_bucket ON samples (bucket);
  CREATE INDEX events_by_time ON events (at);
  `,
  // 4: the last start or stop an operator commanded (NULL: never), kept across clean restarts
  `
  ALTER TABLE services ADD COLUMN commanded TEXT;
  `,
  // 5: the SHA-256 of each run's ORCHESTRATOR_TOKEN, so a re-adopted run's token still authorises it
  `
  ALTER TABLE runs ADD COLUMN token_hash TEXT;
  `,
  // 6: the alert outbox: one row per message to a sink, kept until delivered or given up (alerts/outbox.ts)
  `
  CREATE TABLE alert_outbox (
    id TEXT PRIMARY KEY,
    sink TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'gave_up')),
    dedupe_key TEXT,
    service TEXT,
    reason TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_seq INTEGER,
    count INTEGER NOT NULL DEFAULT 1,
    test INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    next_at INTEGER,
    updated_at INTEGER NOT NULL,
    attempts TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX alert_outbox_pending ON alert_outbox (next_at) WHERE status = 'pending';
  CREATE INDEX alert_outbox_by_time ON alert_outbox (updated_at);
  `,
  // 7: where each run's output is in its live log files (byte offsets at start and at end; GET /api/services/{id}/runs)
  `
  ALTER TABLE runs ADD COLUMN stdout_start INTEGER;
  ALTER TABLE runs ADD COLUMN stderr_start INTEGER;
  ALTER TABLE runs ADD COLUMN stdout_end INTEGER;
  ALTER TABLE runs ADD COLUMN stderr_end INTEGER;
  `,
];

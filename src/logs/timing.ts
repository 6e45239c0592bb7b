/**
 * The cadence of the log store: how often it looks at the log files and the disk, and how much it
 * reads at once. The children write their files without us, so nothing tells the store a file grew
 * except a file-system notification that may be folded or missed: it looks soon after one, and on
 * a slow period regardless. Each value weighs how soon a change shows (a live line, a rotation, a
 * disk that filled) against what a look costs with a thousand services logging. The periods run on
 * the boot clock, so a wall-clock jump pauses none of them.
 */

/**
 * The store's timer: time marks still owed (MARK_EVERY_MS) and the disk check are served from it,
 * every TICK_MS while there is something to serve; otherwise only the full scan wakes it.
 */
export const TICK_MS = 1000;

/** A written file is looked at this soon after its notification: several writes, one look. */
export const CHANGE_DELAY_MS = 20;

/** Every live file is also looked at this often, in case a notification was missed. */
export const FULL_SCAN_MS = 10_000;

/**
 * A stream that grew gets a time mark (wall ms, logical offset) at most this often: any line can
 * be placed in time within about a second (?since=) for 16 bytes a second per busy stream.
 */
export const MARK_EVERY_MS = 1000;

/**
 * A live follower reads at most this much per wake-up (follow.ts): a writer faster than the feed
 * can carry has the excess skipped in the live view (and is told so), never queued in memory.
 */
export const MAX_FOLLOW_READ = 256 * 1024;

/**
 * The disk's free space is looked at this often (disk.ts); while a condition stands, every
 * DISK_RECHECK_MS, so logging is reported back soon after space returns.
 */
export const DISK_CHECK_MS = 10_000;
export const DISK_RECHECK_MS = 1_000;

/** The orchestrator's own log is measured against logs.max_size this often (own.ts). */
export const OWN_LOG_CHECK_MS = 2000;

/** Search and since scans stop after this long, and say so (query.ts). */
export const SCAN_BUDGET_MS = 3000;
/** On top of the scan budget: a worker starting up on a busy machine (query.ts). */
export const READ_GRACE_MS = 7000;

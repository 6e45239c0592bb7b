/**
 * The cadence of the process port: every interval at which the main thread looks at processes, and
 * how it batches. Nothing here is a notification: the kernel gets no event when the last member of
 * a process group ends, when a process it did not start exits, or when a full disk has room again,
 * so each of these is polled, and each period weighs how soon a change is seen against what one
 * look costs on a machine running a thousand services. All on the boot clock (timers).
 */

/**
 * Watching a group empty after its leader exited (child.ts), or after a left-behind group was
 * signalled (adopt.ts): most groups are empty within milliseconds of their leader, so the first
 * look comes soon; the delay then doubles up to a cap, so a grandchild that lingers costs a few
 * /proc reads a second and is still seen gone within a quarter of a second.
 */
export const GROUP_POLL_MIN_MS = 10;
export const GROUP_POLL_MAX_MS = 250;

/**
 * Adopted leaders are not our children, so no exit event comes (adopt.ts). `kill(pid, 0)` every
 * ADOPTED_POLL_MS sees one gone within a tenth of a second for a syscall; every ADOPTED_STAT_EVERY-th
 * poll also reads /proc, for what kill 0 cannot see: a zombie, a reused pid, the exit status.
 */
export const ADOPTED_POLL_MS = 100;
export const ADOPTED_STAT_EVERY = 10;

/** A left-behind group that got SIGKILL has this long to empty before it is reported as not dying (adopt.ts). */
export const LEFT_BEHIND_KILL_WAIT_MS = 5_000;

/**
 * How often the log disk is looked at while a service waits for space (log-disk.ts): a restart
 * within half a second of the space coming back, for one statfs per period, and only while
 * someone waits.
 */
export const LOG_DISK_POLL_MS = 500;

/**
 * How often the resource sampler reads the whole process table (sampler.ts): it costs ~23 ms for
 * 1,100 processes, so once every third round at the default 5 s interval; rounds in between read
 * only the processes started since.
 */
export const TREE_MAX_AGE_MS = 15_000;

// Batching: the sample effects that arrive in one turn of the event loop are measured in one
// sampler round (kernel.ts, setImmediate), so a thousand services sampled at once cost one /proc
// pass, not a thousand. Facts about a spawn or an exit leave before their ledger write and log line
// (child.ts, afterFact).

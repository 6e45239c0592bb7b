/**
 * User Timing marks for the feed → table path, read by bench/dashboard-render.mjs:
 *   dashboard:snapshot / dashboard:update  from a feed message's arrival to the table's commit
 *   …:paint                                 to the frame after it (the table is on screen)
 *   dashboard:apply                         parsing and applying one message
 */
const pending: Array<{ name: string; start: number }> = [];

export function messageArrived(name: 'snapshot' | 'update', start: number): void {
  if (pending.length < 100) pending.push({ name, start });
}

export function measureApply(start: number): void {
  performance.measure('dashboard:apply', { start, end: performance.now() });
}

/** Called by the table after it rendered (layout effect): closes the measures of every message it shows. */
export function tableCommitted(): void {
  if (pending.length === 0) return;
  const done = pending.splice(0);
  const end = performance.now();
  for (const p of done) performance.measure(`dashboard:${p.name}`, { start: p.start, end });
  requestAnimationFrame(() => setTimeout(() => {
    const painted = performance.now();
    for (const p of done) performance.measure(`dashboard:${p.name}:paint`, { start: p.start, end: painted });
  }, 0));
}

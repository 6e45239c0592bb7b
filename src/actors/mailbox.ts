/**
 * One mailbox per actor: messages are handled one at a time, each to completion. A message sent
 * while the actor is busy (even by the actor's own effects) waits its turn instead of re-entering.
 */
export class Mailbox<M> {
  private readonly queue: M[] = [];
  private busy = false;
  private closed = false;

  constructor(private readonly process: (msg: M) => void) {}

  enqueue(msg: M): void {
    if (this.closed) return;
    this.queue.push(msg);
    if (this.busy) return;
    this.busy = true;
    try {
      for (let next = this.queue.shift(); next !== undefined && !this.closed; next = this.queue.shift()) this.process(next);
    } finally {
      this.busy = false;
    }
  }

  /** Drop pending messages and refuse new ones (the actor is gone). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  get size(): number {
    return this.queue.length;
  }
}

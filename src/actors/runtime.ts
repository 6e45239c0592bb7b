/**
 * The small runtime around a pure actor logic: a mailbox, timers, and effect dispatch.
 * It owns all impure bits (clock, scheduler, randomness) so the logic never does; tests inject a
 * manual clock and scheduler and never sleep.
 */
import { Mailbox } from './mailbox.js';
import type { LogicContext, Step, TimerName } from './protocol.js';

export interface Clock {
  now(): number;
}

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface RuntimeEnv {
  clock: Clock;
  scheduler: Scheduler;
  random: () => number;
}

type TimerEffect = { type: 'set_timer'; name: TimerName; gen: number; delayMs: number } | { type: 'cancel_timer'; name: TimerName };
type TimerMsg = { type: 'timer'; name: TimerName; gen: number };

export type Logic<D, M, E> = (data: D, msg: M, ctx: LogicContext) => Step<D, E>;

export interface CellHooks<D, M, E> {
  /** Non-timer effects, in order, after each message. */
  effects(cell: Cell<D, M, E>, effects: E[]): void;
  /** The logic threw: the cell is dead; its supervisor decides what comes next. */
  crashed(cell: Cell<D, M, E>, error: unknown, msg: M): void;
  /** Data changed (called once per handled message). */
  changed?(cell: Cell<D, M, E>, before: D): void;
}

export class Cell<D, M, E> {
  private readonly mailbox: Mailbox<M>;
  private readonly timers = new Map<TimerName, unknown>();
  private alive = true;

  constructor(
    readonly id: string,
    private readonly logic: Logic<D, M, E>,
    public data: D,
    private readonly env: RuntimeEnv,
    private readonly hooks: CellHooks<D, M, E>,
  ) {
    this.mailbox = new Mailbox((msg) => this.handle(msg));
  }

  send(msg: M): void {
    this.mailbox.enqueue(msg);
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** Take the step a message produced: new data, its effects, then the change hook. */
  private apply(step: Step<D, E>): void {
    const before = this.data;
    this.data = step.data;
    this.dispatch(step.effects);
    this.hooks.changed?.(this, before);
  }

  /** Stop the cell: timers cleared, pending and future messages dropped. */
  stop(): void {
    this.alive = false;
    this.mailbox.close();
    for (const handle of this.timers.values()) this.env.scheduler.clearTimeout(handle);
    this.timers.clear();
  }

  private handle(msg: M): void {
    let step: Step<D, E>;
    try {
      step = this.logic(this.data, msg, { now: this.env.clock.now(), random: this.env.random });
    } catch (error) {
      this.stop();
      this.hooks.crashed(this, error, msg);
      return;
    }
    this.apply(step);
  }

  private dispatch(effects: E[]): void {
    const rest: E[] = [];
    for (const effect of effects) {
      const e = effect as unknown as TimerEffect | { type: string };
      if (e.type === 'set_timer') {
        const { name, gen, delayMs } = e as Extract<TimerEffect, { type: 'set_timer' }>;
        this.clearTimer(name);
        this.timers.set(name, this.env.scheduler.setTimeout(() => {
          this.timers.delete(name);
          this.send({ type: 'timer', name, gen } satisfies TimerMsg as unknown as M);
        }, Math.max(0, delayMs)));
      } else if (e.type === 'cancel_timer') {
        this.clearTimer((e as Extract<TimerEffect, { type: 'cancel_timer' }>).name);
      } else {
        rest.push(effect);
      }
    }
    if (rest.length) this.hooks.effects(this, rest);
  }

  private clearTimer(name: TimerName): void {
    const handle = this.timers.get(name);
    if (handle !== undefined) {
      this.env.scheduler.clearTimeout(handle);
      this.timers.delete(name);
    }
  }
}

import t from 'tap';
import { Mailbox } from '../../src/actors/mailbox.js';
import { Cell } from '../../src/actors/runtime.js';
import { manualScheduler } from '../helpers/scheduler.js';

t.test('mailbox: run to completion, a message sent while busy waits its turn', async (t) => {
  const order: string[] = [];
  const box: Mailbox<string> = new Mailbox((m) => {
    order.push(`start ${m}`);
    if (m === 'a') box.enqueue('b');
    order.push(`end ${m}`);
  });
  box.enqueue('a');
  t.same(order, ['start a', 'end a', 'start b', 'end b']);
  box.close();
  box.enqueue('c');
  t.equal(order.length, 4, 'closed mailbox drops messages');
});

type Msg = { type: 'tick' } | { type: 'arm'; ms: number } | { type: 'cancel' } | { type: 'timer'; name: 'probe'; gen: number } | { type: 'boom' };
type Eff = { type: 'set_timer'; name: 'probe'; gen: number; delayMs: number } | { type: 'cancel_timer'; name: 'probe' } | { type: 'out'; v: string };

t.test('cell: timers carry generations; set replaces, cancel clears; other effects go out in order', async (t) => {
  const sched = manualScheduler();
  const out: string[] = [];
  let gen = 0;
  const logic = (d: string[], m: Msg) => {
    switch (m.type) {
      case 'arm': return { data: d, effects: [{ type: 'set_timer', name: 'probe', gen: ++gen, delayMs: m.ms } as Eff, { type: 'out', v: `armed ${gen}` } as Eff] };
      case 'cancel': return { data: d, effects: [{ type: 'cancel_timer', name: 'probe' } as Eff] };
      case 'timer': return { data: [...d, `fired ${m.gen}`], effects: [{ type: 'out', v: `fired ${m.gen}` } as Eff] };
      case 'boom': throw new Error('logic bug');
      default: return { data: d, effects: [] };
    }
  };
  const crashes: string[] = [];
  const cell = new Cell<string[], Msg, Eff>('c', logic, [], { clock: { now: sched.now }, scheduler: sched, random: Math.random }, {
    effects: (_c, fx) => out.push(...fx.map((e) => (e.type === 'out' ? e.v : e.type))),
    crashed: (_c, err) => crashes.push((err as Error).message),
  });
  cell.send({ type: 'arm', ms: 100 });
  cell.send({ type: 'arm', ms: 300 });
  t.equal(sched.pending(), 1, 'setting a timer again replaces it');
  sched.advance(150);
  t.same(cell.data, [], 'the replaced timer never fires');
  sched.advance(200);
  t.same(cell.data, ['fired 2']);
  cell.send({ type: 'arm', ms: 50 });
  cell.send({ type: 'cancel' });
  sched.advance(100);
  t.same(cell.data, ['fired 2'], 'cancelled timer does not fire');
  t.same(out, ['armed 1', 'armed 2', 'fired 2', 'armed 3']);
  cell.send({ type: 'boom' });
  t.same(crashes, ['logic bug']);
  t.notOk(cell.isAlive, 'a crashed cell is dead');
  cell.send({ type: 'arm', ms: 1 });
  t.equal(sched.pending(), 0, 'and ignores further messages');
});

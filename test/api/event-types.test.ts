/**
 * Event types are a closed union (api/types.ts EventType): an emitter that names an unknown type
 * fails the typecheck (`tsc --noEmit` covers test/, so the @ts-expect-error lines below are checked:
 * were the union widened to string, they would be unused and tsc would fail).
 */
import t from 'tap';
import type { EventType } from '../../src/api/types.js';
import type { RootEffect, ServiceEffect, ServiceEvent, SupervisorEffect } from '../../src/actors/protocol.js';

t.test('known event types fit; unknown ones are type errors', async (t) => {
  const known: ServiceEvent = { service: null, type: 'group_escalated', at: 0, data: {} };
  // @ts-expect-error not an event type
  const unknown: ServiceEvent = { service: null, type: 'group_escalted', at: 0, data: {} };
  // @ts-expect-error the actors' event effects carry the type too
  const effect: ServiceEffect = { type: 'event', event: 'stat', data: {} };
  // @ts-expect-error
  const group: SupervisorEffect = { type: 'event', event: 'gave_up', data: {} };
  // @ts-expect-error
  const root: RootEffect = { type: 'event', event: 'escalated', data: {} };
  const names: EventType[] = ['state', 'exit', 'supervisor_gave_up', 'root_intensity_exceeded', 'events_dropped'];
  t.equal(known.type, 'group_escalated');
  t.same([unknown, effect, group, root].map((x) => x.type), ['group_escalted', 'event', 'event', 'event'], 'checked by tsc, not at run time');
  t.equal(names.length, 5);
});

/**
 * Group supervisor as a pure transition, with OTP's semantics: a restart strategy
 * (one_for_one | one_for_all | rest_for_one) and, where one applies, a restart intensity — more than
 * `intensity` restarts within `period_seconds` and the supervisor gives up on its whole group.
 *
 * Each ServiceActor restarts its own process (with backoff, within its own retry budget); the
 * supervisor decides what that restart means for the siblings and, if the group has an intensity,
 * counts restarts across the group. A one_for_one group that declares no intensity has none: its
 * members share nothing, so a burst of single failures across a large fleet never stops it.
 *
 * A group that gives up stops its members (give_up) and escalates to the root supervisor
 * (actors/root.ts), which records it and touches no other group.
 */
import { DEPENDENT_GROUP_INTENSITY, type SupervisorEntries, type SupervisorSettings } from '../config/schema.js';
import { addRestart } from './policy.js';
import { assertNever, type LogicContext, type Step, type SupervisorEffect, type SupervisorMsg } from './protocol.js';

/**
 * The effective settings of group `name`. Strategy (and period) come from the group's own entry in
 * `supervision.groups`, else from the top level. The intensity, with the period it goes with: the
 * group's own declared intensity; else the top level's declared intensity; else, for one_for_all and
 * rest_for_one groups (whose members depend on each other), DEPENDENT_GROUP_INTENSITY; else none.
 */
export function groupSettings(supervision: SupervisorEntries & { groups: Record<string, SupervisorEntries> }, name: string): SupervisorSettings {
  const own = supervision.groups[name];
  const { strategy, period_seconds } = own ?? supervision;
  if (own?.intensity !== undefined) return { strategy, intensity: own.intensity, period_seconds };
  if (supervision.intensity !== undefined) return { strategy, intensity: supervision.intensity, period_seconds: supervision.period_seconds };
  return { strategy, intensity: strategy === 'one_for_one' ? null : DEPENDENT_GROUP_INTENSITY, period_seconds };
}

export interface GroupData {
  name: string;
  settings: SupervisorSettings;
  /** Children in start order (dependencies first). */
  children: string[];
  /** Boot-clock times of recent restarts, oldest first (none kept when the group has no intensity). */
  restarts: number[];
  gaveUp: boolean;
}

export function initialGroup(name: string, settings: SupervisorSettings, children: string[]): GroupData {
  return { name, settings, children, restarts: [], gaveUp: false };
}

export function superviseTransition(data: GroupData, msg: SupervisorMsg, ctx: LogicContext): Step<GroupData, SupervisorEffect> {
  switch (msg.type) {
    case 'child_ready':
      return { data, effects: [] };
    case 'reset':
      return { data: { ...data, restarts: [], gaveUp: false }, effects: [] };
    case 'set_children':
      return { data: { ...data, children: msg.children }, effects: [] };
    case 'child_exit': {
      if (!msg.willRestart || data.gaveUp || !data.children.includes(msg.id)) return { data, effects: [] };
      // No group-wide limit: the child's own retry budget and backoff are its only limits.
      if (data.settings.intensity === null) return { data, effects: siblingRestarts(data, msg.id) };
      const { times: restarts, exceeded } = addRestart(data.restarts, ctx.now, data.settings.period_seconds * 1000, data.settings.intensity);
      if (exceeded) {
        const reason = `supervisor of group "${data.name}" gave up: ${restarts.length} restarts within ${data.settings.period_seconds}s (intensity ${data.settings.intensity})`;
        return {
          data: { ...data, restarts, gaveUp: true },
          effects: [
            { type: 'event', event: 'supervisor_gave_up', data: { group: data.name, restarts: restarts.length, period_seconds: data.settings.period_seconds, trigger: msg.id } },
            ...data.children.map((to): SupervisorEffect => ({ type: 'send', to, msg: { type: 'give_up', reason } })),
            { type: 'escalate', msg: { type: 'group_gave_up', group: data.name, trigger: msg.id, restarts: restarts.length, period_seconds: data.settings.period_seconds } },
          ],
        };
      }
      return { data: { ...data, restarts }, effects: siblingRestarts(data, msg.id) };
    }
    default:
      return assertNever(msg);
  }
}

function siblingRestarts(data: GroupData, id: string): SupervisorEffect[] {
  const { strategy } = data.settings;
  let siblings: string[];
  switch (strategy) {
    case 'one_for_one': return [];
    case 'one_for_all': siblings = data.children.filter((c) => c !== id); break;
    case 'rest_for_one': siblings = data.children.slice(data.children.indexOf(id) + 1); break;
    default: return assertNever(strategy);
  }
  const reason = `${strategy}: sibling "${id}" exited`;
  return siblings.map((to) => ({ type: 'send', to, msg: { type: 'restart', reason } }));
}

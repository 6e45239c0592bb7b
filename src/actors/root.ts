/**
 * The root supervisor as a pure transition: the parent of every group supervisor, and where a group
 * that gave up escalates to.
 *
 * OTP's chain is: a supervisor past its intensity shuts its children down and exits; its parent
 * counts that as one restart (add_restart) and, past its own intensity, exits too — up to the
 * application, which stops the node. The root here deliberately stops the chain at itself. Agent
 * services in different groups share nothing, and an orchestrator that has exited supervises
 * nothing, so a group that gives up is recorded (`group_escalated`) and nothing else is touched: no
 * sibling group is restarted, the orchestrator keeps running. The root still keeps OTP's intensity,
 * over escalations: when groups give up faster than `intensity` within `periodMs`, something they
 * share is likely wrong (the host, a common dependency), and the root raises
 * `root_intensity_exceeded` — once per burst — for an operator to look at, instead of taking
 * anything down.
 */
import { addRestart } from './policy.js';
import { assertNever, type LogicContext, type RootEffect, type RootMsg, type Step } from './protocol.js';

/** More than this many groups giving up within ROOT_PERIOD_MS raises root_intensity_exceeded. */
export const ROOT_INTENSITY = 3;
export const ROOT_PERIOD_MS = 60_000;

export interface RootSettings {
  intensity: number;
  periodMs: number;
}

export interface RootData {
  settings: RootSettings;
  /** Boot-clock times of recent escalations, oldest first. */
  escalations: number[];
  /** The latest escalation found the window past the intensity (the event was raised for it). */
  exceeded: boolean;
}

export function initialRoot(settings: RootSettings = { intensity: ROOT_INTENSITY, periodMs: ROOT_PERIOD_MS }): RootData {
  return { settings, escalations: [], exceeded: false };
}

export function rootTransition(data: RootData, msg: RootMsg, ctx: LogicContext): Step<RootData, RootEffect> {
  switch (msg.type) {
    case 'group_gave_up': {
      const { intensity, periodMs } = data.settings;
      const { times: escalations, exceeded } = addRestart(data.escalations, ctx.now, periodMs, intensity);
      const effects: RootEffect[] = [{
        type: 'event', event: 'group_escalated',
        data: { group: msg.group, trigger: msg.trigger, restarts: msg.restarts, period_seconds: msg.period_seconds, escalations: escalations.length },
      }];
      // Raised when the window crosses the intensity, not again for each group of the same burst.
      if (exceeded && !data.exceeded) {
        const period_seconds = periodMs / 1000;
        effects.push({
          type: 'event', event: 'root_intensity_exceeded',
          data: {
            groups: escalations.length, period_seconds, intensity, last_group: msg.group,
            message: `${escalations.length} supervision groups gave up within ${period_seconds}s (root intensity ${intensity}): look for a cause they share; the other services and the orchestrator keep running`,
          },
        });
      }
      return { data: { ...data, escalations, exceeded }, effects };
    }
    default:
      return assertNever(msg.type);
  }
}

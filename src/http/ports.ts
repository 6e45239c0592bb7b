/**
 * What the HTTP side may reach of the orchestrator: narrow ports, each a slice of one part, so a
 * route cannot touch the registry, the kernel or the actor host behind the fleet's back.
 * system.ts builds them; tests can build them from the same parts.
 */
import type { EventEmitter } from 'node:events';
import type { ServiceMsg } from '../actors/protocol.js';
import type { AlertDispatcher } from '../alerts/dispatcher.js';
import type { OrchestratorConfig } from '../config/schema.js';
import type { Fleet } from '../fleet/fleet.js';
import type { EventQuery, History } from '../fleet/history.js';
import type { Views } from '../fleet/views.js';
import type { LogAnswer, LogQuery } from '../logs/query.js';
import type { Stream } from '../os/logs.js';
import type { RunLedger } from '../store/runs.js';
import type { TokenOwner } from '../os/tokens.js';

/** New log lines of a followed service, as the log store reads them. */
export type LogLines = EventEmitter<{ lines: [string, Stream, string[]] }>;

export interface HttpPorts {
  config: OrchestratorConfig;
  /** Queries over the latest views and the commands on services. */
  fleet: Pick<Fleet, 'list' | 'get' | 'has' | 'summary' | 'problems' | 'command' | 'register' | 'update' | 'remove' | 'reload' | 'definitions' | 'isGroup' | 'group' | 'commandGroup' | 'rollingRestart' | 'rollout'>;
  events: EventQuery;
  /** The runs ledger, read only (GET /api/services/{id}/runs). */
  runs: Pick<RunLedger, 'before' | 'total'>;
  history: Pick<History, 'conditions' | 'samplesSince' | 'writes' | 'drains' | 'cpuSeconds' | 'probeLatencies'>;
  /** Alert sinks and deliveries (GET /api/alerts) and test messages. */
  alerts: Pick<AlertDispatcher, 'view' | 'test' | 'has'>;
  /** What the /ws feed publishes: stored events, view batches, log lines. */
  feed: { history: Pick<History, 'on' | 'off'>; views: Pick<Views, 'on' | 'off'>; lines: LogLines };
  logs: {
    follow(id: string): void;
    unfollow(id: string): void;
    query(id: string, q: LogQuery): Promise<LogAnswer>;
  };
  /** A supervised service's own calls (agent.ts): whose run token it presented, and its messages to its actor. */
  agents: {
    tokenOwner(id: string, token: string): TokenOwner;
    /** Batched with the kernel's facts on their way to the actor host. */
    tell(id: string, msg: Extract<ServiceMsg, { type: 'heartbeat' | 'throttle' }>): void;
  };
  status: {
    /** The HTTP server is bound to `port` (orchestrator.port 0: one the system chose): what children are told in ORCHESTRATOR_URL. */
    listening(port: number): void;
    startedAt: number;
    uptimeSeconds(): number;
    hostReady(): boolean;
    /** Load generation for bench/ws-fanout.mjs (ORCHESTRATOR_BENCH=1 only). */
    benchEvents(rate: number, seconds: number): void;
    /** Open /ws connections: the feed (http/ws.ts) sets this when it starts. */
    feedClients: () => number;
  };
}

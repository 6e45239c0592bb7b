/**
 * What the MCP tools and resources need from an orchestrator, as a small interface with two
 * implementations: in-process over the ports the HTTP server has (local.ts, for /mcp) and over the
 * REST API (rest.ts, for `orchestrator mcp` on stdio). Shapes are the API's own (api/types.ts).
 * Failures are thrown as errors whose message a model can act on (AppError, CliError).
 */
import type { PresentedEvent, PresentedService } from '../api/types.js';
import type { Command } from '../actors/protocol.js';

export interface ServiceDetail extends PresentedService {
  spec: Record<string, unknown>;
  /** The latest events of the service, newest last. */
  events: PresentedEvent[];
}

export interface LogRequest {
  lines: number;
  stream: 'stdout' | 'stderr' | 'both';
  /** Wall-clock ms. */
  since?: number;
  text?: string;
  regex?: string;
}

export interface LogLineOut {
  stream: string;
  line: string;
  at: string;
}

export interface LogResult {
  lines: LogLineOut[];
  /** More lines matched than `lines` (the last ones are given). */
  truncated: boolean;
  /** The search ran out of time before reading every file. */
  timedOut: boolean;
}

export interface EventPage {
  events: PresentedEvent[];
  last_seq: number;
}

export interface FleetStatus {
  status: string;
  services: { total: number; by_state: Record<string, number>; healthy: number; unhealthy: number };
  problems: string[];
}

export interface Backend {
  services(): Promise<PresentedService[]>;
  service(id: string): Promise<ServiceDetail>;
  logs(id: string, q: LogRequest): Promise<LogResult>;
  /** Events after `since` (oldest first), of one service or all. */
  eventsAfter(since: number, limit: number, service?: string): Promise<EventPage>;
  /** The newest `limit` events (oldest first), of one service or all. */
  latestEvents(limit: number, service?: string): Promise<EventPage>;
  status(): Promise<FleetStatus>;
  /** `actor` names who asked (the API key's name), recorded with the change. */
  /** `rolling`: a restart of a replicated service, one instance at a time. */
  command(id: string, command: Command, actor: string, rolling?: boolean): Promise<PresentedService>;
  reload(actor: string): Promise<Record<string, unknown>>;
  register(input: Record<string, unknown>, actor: string): Promise<ServiceDetail & { created: boolean }>;
  update(id: string, changes: Record<string, unknown>, actor: string): Promise<ServiceDetail & { restarted: boolean }>;
  remove(id: string, actor: string): Promise<void>;
}

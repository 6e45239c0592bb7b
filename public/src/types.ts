/** The API's shapes, as the dashboard reads them. The service shape is the server's own type. */
import type { PresentedService } from '../../src/http/present.js';

export type Service = PresentedService;
export type ServiceState = Service['state'];
export type Health = Service['health'];

export const STATES: ServiceState[] = ['running', 'starting', 'stopping', 'exited', 'backoff', 'failed', 'stopped'];

export interface FeedEvent {
  seq: number;
  at: string;
  service: string | null;
  type: string;
  data: Record<string, unknown>;
}

export interface ServiceDetail extends Service {
  spec: Record<string, unknown>;
  events: FeedEvent[];
}

export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  stream: LogStream;
  line: string;
}

export interface Problem {
  field: string;
  message: string;
  line?: number;
}

/** Messages of the /ws feed. */
export type FeedMessage =
  | { type: 'hello'; seq: number; version: string; server_time: string }
  | { type: 'event'; event: FeedEvent }
  | { type: 'events'; events: FeedEvent[] }
  | { type: 'snapshot'; seq: number; services: Service[] }
  | { type: 'services'; services: Service[]; removed: string[] }
  | { type: 'log'; service: string; stream: LogStream; lines: string[] }
  | { type: 'reset'; seq?: number; reason?: string }
  | { type: 'pong'; seq: number }
  | { type: 'subscribed'; topics: string[] }
  | { type: 'error'; code: string; message: string };

/** The API's shapes, as the dashboard reads them: the server's own wire types (src/api/types.ts). */
import type { FeedMessage, LogStream, PresentedEvent, PresentedService, RunsPage, ServiceDetail } from '../../src/api/types.js';

export type { FeedMessage, LogStream, RunsPage, ServiceDetail };
export type Service = PresentedService;
export type FeedEvent = PresentedEvent;
export type ServiceState = Service['state'];
export type Health = Service['health'];

export const STATES: ServiceState[] = ['running', 'starting', 'draining', 'stopping', 'exited', 'backoff', 'throttled', 'failed', 'stopped'];

export interface LogLine {
  stream: LogStream;
  line: string;
}

/** One problem of an invalid request, as the API's error body lists them. */
export interface Problem {
  field: string;
  message: string;
  line?: number;
}

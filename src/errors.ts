/** Error factories shared by the API, CLI and orchestrator: one place for codes and statuses. */
import type { Problem } from './config/load.js';

export type ErrorCode =
  | 'not_found' | 'conflict' | 'validation' | 'bad_request' | 'unavailable' | 'unauthorized'
  | 'forbidden' | 'rate_limited' | 'too_large' | 'uri_too_long' | 'headers_too_large' | 'unsupported_media_type'
  | 'method_not_allowed' | 'internal';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly field?: string,
    readonly problems?: Problem[],
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`, 404);
export const conflict = (message: string, field?: string) => new AppError('conflict', message, 409, field);
export const unavailable = (message: string) => new AppError('unavailable', message, 503);
export const badRequest = (message: string, field?: string) => new AppError('bad_request', message, 400, field);

/** A validation failure: the first problem names the field; all of them travel along. */
export function invalid(problems: Problem[]): AppError {
  const first = problems[0];
  const message = problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ');
  return new AppError('validation', message || 'invalid input', 400, first?.field || undefined, problems);
}

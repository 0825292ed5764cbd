/**
 * Asks the users service whether a user exists: `GET {USERS_SERVICE_URL}/users/:id`, each attempt
 * bounded by USERS_TIMEOUT, retried USERS_RETRIES times with jittered exponential backoff when the
 * service cannot be reached, times out or answers 5xx. A 404 is an answer, not a failure.
 * The caller's request id travels on as `X-Request-Id`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { REQUEST_ID_HEADER } from '@berth-example/service-kit';
import type { FastifyBaseLogger } from 'fastify';

/** First backoff step (ms); attempt n waits a random time up to BASE * 2^(n-1). */
const BACKOFF_BASE_MS = 100;

export interface UsersClientOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly retries: number;
}

/** The users service could not answer (after the retries). */
export class UsersUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UsersUnavailableError';
  }
}

export class UsersClient {
  constructor(private readonly options: UsersClientOptions) {}

  async userExists(userId: number, context: { requestId: string; log: FastifyBaseLogger }): Promise<boolean> {
    const url = `${this.options.baseUrl}/users/${encodeURIComponent(String(userId))}`;
    const attempts = this.options.retries + 1;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(Math.random() * BACKOFF_BASE_MS * 2 ** (attempt - 2));
      try {
        const response = await fetch(url, {
          headers: { accept: 'application/json', [REQUEST_ID_HEADER]: context.requestId },
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        await response.body?.cancel(); // only the status matters; free the connection
        if (response.status === 200) return true;
        if (response.status === 404) return false;
        lastProblem = `users service answered ${response.status}`;
        if (response.status < 500) break; // a 4xx will not change on retry
      } catch (error) {
        lastProblem = describe(error, this.options.timeoutMs);
      }
      context.log.warn({ attempt, attempts, userId, problem: lastProblem }, 'users service call failed');
    }
    throw new UsersUnavailableError(`users service unavailable: ${lastProblem}`);
  }
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

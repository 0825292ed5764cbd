/**
 * Readiness: the database answers AND berth's `check()` finds every migration of this build
 * applied (none pending, failed, drifted or missing). Results are cached briefly so that probes
 * from several sources (kubelet, load balancer, /metrics scrapes) do not each open a connection,
 * and concurrent callers share one check in flight.
 */
import { createMigrator } from 'berth';
import type pg from 'pg';

export type Readiness =
  | { readonly ready: true; readonly schemaVersion: number | null }
  | { readonly ready: false; readonly reason: string; readonly schemaVersion?: number | null };

export interface ReadinessOptions {
  readonly pool: pg.Pool;
  /** The URL berth's check connects with (the app role: it may SELECT berth_migrations). */
  readonly databaseUrl: string;
  readonly migrationsDir: string;
  /** How long a result is reused (ms). */
  readonly cacheMs?: number;
  /** A check that takes longer than this is "not ready" (ms). */
  readonly timeoutMs?: number;
}

export const DEFAULT_READINESS_CACHE_MS = 1_000;
const DEFAULT_READINESS_TIMEOUT_MS = 3_000;

export class ReadinessProbe {
  private cached: { at: number; value: Readiness } | undefined;
  private inFlight: Promise<Readiness> | undefined;
  private stopped: string | undefined;

  constructor(private readonly options: ReadinessOptions) {}

  /** The latest result, checking again when the cached one is older than `cacheMs`. */
  get(): Promise<Readiness> {
    if (this.stopped) return Promise.resolve({ ready: false, reason: this.stopped });
    const cacheMs = this.options.cacheMs ?? DEFAULT_READINESS_CACHE_MS;
    if (this.cached && Date.now() - this.cached.at < cacheMs) return Promise.resolve(this.cached.value);
    this.inFlight ??= this.check().then((value) => {
      this.cached = { at: Date.now(), value };
      this.inFlight = undefined;
      return value;
    });
    return this.inFlight;
  }

  /** From now on, always "not ready" with `reason` (e.g. shutting down). */
  stop(reason: string): void {
    this.stopped = reason;
  }

  private async check(): Promise<Readiness> {
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      await withAbort(this.options.pool.query('select 1'), signal);
    } catch (error) {
      return { ready: false, reason: `database unreachable: ${describe(error, signal, timeoutMs)}` };
    }
    const migrator = createMigrator({ databaseUrl: this.options.databaseUrl, dir: this.options.migrationsDir, signal });
    try {
      const result = await withAbort(migrator.check(), signal);
      return result.upToDate
        ? { ready: true, schemaVersion: result.current }
        : { ready: false, reason: `schema not current: ${result.reason ?? 'unknown'}`, schemaVersion: result.current };
    } catch (error) {
      return { ready: false, reason: `schema check failed: ${describe(error, signal, timeoutMs)}` };
    } finally {
      await migrator.close().catch(() => undefined);
    }
  }
}

function withAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function describe(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `no answer within ${timeoutMs} ms`;
  return error instanceof Error ? error.message : String(error);
}

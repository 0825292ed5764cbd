import { availableParallelism } from 'node:os';
import type { AwaitOptions, AwaitResult, CheckResult, Migrator, MigratorOptions, StatusReport, UpOptions, UpResult } from '../api.js';
import type { BerthEvent } from '../events.js';
import { createMigrator } from '../migrator.js';
import { connect, sessionKeeper } from '../connect.js';
import { BERTH_VERSION } from '../../version.js';
import { BerthError, ConfigError, InterruptedError, toBerthError, ValidationError } from '../../errors.js';
import { summarizeFleet, type FleetReport, type TargetOutcome, type TargetResult } from './report.js';
import { takeShard, type Shard } from './shard.js';
import { targetListFromRows, type FleetTarget, type TargetList } from './targets.js';

/**
 * A fleet (SPEC §10): one command over many databases or schemas, `parallel` at once. Each target
 * gets its own migrator (core/migrator.ts), so its own session, lock and history table, and
 * every single-target guarantee holds per target: two fleets over overlapping targets apply each
 * migration once, an interrupt rolls back what is running, a rerun resumes from each history.
 */
export interface FleetOptions extends Omit<MigratorOptions, 'databaseUrl' | 'schema' | 'searchPath' | 'onEvent'> {
  readonly targets: readonly FleetTarget[];
  /** Targets at once. Default: `defaultParallelism` (CPU count and the server's free connections). */
  readonly parallel?: number;
  /** Start no target after the first failure (running ones finish). Default false: run all, then report. */
  readonly failFast?: boolean;
  /** Run the first K targets first; if any fails, touch no other (they are reported `skipped`). */
  readonly canary?: number;
  /** Only this shard's targets (shard.ts); default all. */
  readonly shard?: Shard;
  /** A target's own events with its name; the fleet's own events (`fleet.*`) without. */
  readonly onEvent?: (event: BerthEvent | FleetEvent, target?: string) => void;
}

export type FleetEvent =
  | { event: 'fleet.started'; command: string; targets: number; parallel: number; canary: number; shard: Shard | null }
  | { event: 'fleet.target.done'; target: string; result: TargetOutcome; exitCode: number | null; durationMs: number; applied: number; code?: string; error?: string }
  | { event: 'fleet.stopped'; reason: 'canary' | 'fail-fast' | 'interrupted'; skipped: number };

/** Results as they finish (`for await`), and the report once every target has one. */
export interface FleetRun<T> extends AsyncIterable<TargetResult<T>> {
  report(): Promise<FleetReport>;
}

export interface Fleet {
  /** This shard's targets, in order. */
  readonly targets: readonly FleetTarget[];
  /** `beforeApply` is called for each target about to apply something, concurrently across targets. */
  up(options?: UpOptions): FleetRun<UpResult>;
  status(): FleetRun<StatusReport>;
  /** A target whose schema is not current fails with exit 5 (ERR_SCHEMA_NOT_CURRENT), as `berth check` does. */
  check(options?: { expect?: number }): FleetRun<CheckResult>;
  validate(options?: { allowOutOfOrder?: boolean }): FleetRun<StatusReport>;
  awaitSchema(options: Omit<AwaitOptions, 'signal'>): FleetRun<AwaitResult>;
}

interface Done<T> {
  readonly value: T;
  readonly result: TargetOutcome;
  readonly applied?: readonly number[];
  readonly current?: number | null;
  readonly pending?: number;
}

export function createFleet(options: FleetOptions): Fleet {
  const { targets: all, parallel, failFast = false, canary = 0, shard, onEvent, ...common } = options;
  if (parallel !== undefined && (!Number.isInteger(parallel) || parallel < 1)) throw new ConfigError('ERR_CONFIG_INVALID', `parallel: ${String(parallel)} is not a whole number of at least 1`);
  if (!Number.isInteger(canary) || canary < 0) throw new ConfigError('ERR_CONFIG_INVALID', `canary: ${String(canary)} is not a whole number of at least 0`);
  const names = new Set<string>();
  for (const t of all) {
    if (names.has(t.name)) throw new ConfigError('ERR_CONFIG_INVALID', `target ${t.name} is listed twice`);
    names.add(t.name);
  }
  const targets = Object.freeze(takeShard(all, shard));
  const emit = onEvent ?? (() => undefined);

  function run<T>(command: string, op: (m: Migrator) => Promise<Done<T>>): FleetRun<T> {
    const queue: TargetResult<T>[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let report: Promise<FleetReport> | undefined;
    const start = () => (report ??= execute(command, op, (r) => {
      queue.push(r);
      wake?.();
    }).finally(() => {
      finished = true;
      wake?.();
    }));
    return {
      report: start,
      async *[Symbol.asyncIterator]() {
        const done = start();
        done.catch(() => undefined);
        while (true) {
          while (queue.length) yield queue.shift()!;
          if (finished) break;
          await new Promise<void>((resolve) => {
            wake = () => {
              wake = undefined;
              resolve();
            };
          });
        }
        await done;
      },
    };
  }

  async function execute<T>(command: string, op: (m: Migrator) => Promise<Done<T>>, publish: (r: TargetResult<T>) => void): Promise<FleetReport> {
    const started = Date.now();
    const signal = common.signal;
    const width = Math.max(1, Math.min(parallel ?? await defaultParallelism(targets[0], common), Math.max(1, targets.length)));
    emit({ event: 'fleet.started', command, targets: targets.length, parallel: width, canary: Math.min(canary, targets.length), shard: shard ?? null });
    const results = new Map<string, TargetResult<T>>();
    let stopped: FleetReport['stopped'];
    const record = (r: TargetResult<T>) => {
      results.set(r.target, r);
      emit({ event: 'fleet.target.done', target: r.target, result: r.result, exitCode: r.exitCode, durationMs: r.durationMs, applied: r.applied.length,
        ...(r.code ? { code: r.code } : {}), ...(r.error ? { error: r.error } : {}) });
      publish(r);
    };

    const one = async (t: FleetTarget): Promise<TargetResult<T>> => {
      const begun = Date.now();
      const m = createMigrator({
        ...common,
        databaseUrl: t.databaseUrl,
        ...(t.schema ? { schema: t.schema } : {}),
        ...(t.searchPath ? { searchPath: t.searchPath } : {}),
        onEvent: (e) => emit(e, t.name),
      });
      try {
        const done = await op(m);
        return {
          target: t.name, result: done.result, exitCode: 0, applied: done.applied ?? [],
          ...(done.current !== undefined ? { current: done.current } : {}), ...(done.pending !== undefined ? { pending: done.pending } : {}),
          durationMs: Date.now() - begun, value: done.value,
        };
      } catch (caught) {
        // As a single run reports it: the signal's own error, unless the target says more precisely.
        const error: BerthError = signal?.aborted && signal.reason instanceof InterruptedError && !(caught instanceof InterruptedError) && !(caught instanceof BerthError && caught.exitCode === 7)
          ? signal.reason
          : toBerthError(caught);
        const interrupted = error instanceof InterruptedError;
        return {
          target: t.name, result: interrupted ? 'interrupted' : 'failed', exitCode: error.exitCode, code: error.code,
          error: error.message.split('\n')[0]!, applied: [], durationMs: Date.now() - begun,
        };
      } finally {
        await m.close().catch(() => undefined);
      }
    };

    const pool = async (list: readonly FleetTarget[]) => {
      let next = 0;
      const worker = async () => {
        while (next < list.length && stopped === undefined && !signal?.aborted) {
          const r = await one(list[next++]!);
          record(r);
          if (r.result === 'failed' && failFast) stopped ??= 'fail-fast';
        }
      };
      await Promise.all(Array.from({ length: Math.min(width, list.length) }, worker));
    };

    const k = Math.min(canary, targets.length);
    if (k > 0) {
      await pool(targets.slice(0, k));
      if (stopped === undefined && targets.slice(0, k).some((t) => results.get(t.name)?.result === 'failed')) stopped = 'canary';
    }
    await pool(k > 0 ? targets.slice(k) : targets);
    if (signal?.aborted) stopped ??= 'interrupted';
    const skipped = targets.filter((t) => !results.has(t.name));
    if (skipped.length) emit({ event: 'fleet.stopped', reason: stopped ?? 'interrupted', skipped: skipped.length });
    for (const t of skipped) record({ target: t.name, result: 'skipped', exitCode: null, applied: [], durationMs: 0 });
    return summarizeFleet({
      command, shard: shard ?? null, parallel: width, durationMs: Date.now() - started,
      results: targets.map((t) => results.get(t.name)!), ...(stopped ? { stopped } : {}),
    });
  }

  return Object.freeze({
    targets,
    up: (o: UpOptions = {}) => run<UpResult>('migrate', async (m) => {
      const value = await m.up(o);
      return { value, result: value.dryRun ? 'ok' : value.applied.length ? 'applied' : 'unchanged', applied: value.applied.map((a) => a.version), current: value.current, pending: value.pending };
    }),
    status: () => run<StatusReport>('status', async (m) => {
      const value = await m.status();
      return { value, result: 'ok', current: value.current, pending: value.pending.length };
    }),
    check: (o: { expect?: number } = {}) => run<CheckResult>('check', async (m) => {
      const value = await m.check(o);
      if (!value.upToDate) throw new ValidationError('ERR_SCHEMA_NOT_CURRENT', `schema is not current: ${value.reason}`, { details: { current: value.current, pending: value.pending } });
      return { value, result: 'ok', current: value.current, pending: value.pending };
    }),
    validate: (o: { allowOutOfOrder?: boolean } = {}) => run<StatusReport>('validate', async (m) => {
      const value = await m.validate(o);
      return { value, result: 'ok', current: value.current, pending: value.pending.length };
    }),
    awaitSchema: (o: Omit<AwaitOptions, 'signal'>) => run<AwaitResult>('await', async (m) => {
      const value = await m.awaitSchema(o);
      return { value, result: 'ok', current: value.current };
    }),
  });
}

/** Most targets wait on the database, not on this process: a few per core. */
const TARGETS_PER_CPU = 4;
const MAX_DEFAULT_PARALLEL = 64;

/**
 * The default `parallel`: 4 per CPU (at most 64), and at most half the connections the first
 * target's server has free (each target holds one, and a cancel needs a second for a moment;
 * the rest is left to the applications). Where the server cannot be asked, the CPU bound alone.
 */
export async function defaultParallelism(first: FleetTarget | undefined, common: Pick<MigratorOptions, 'sslmode' | 'sslrootcert' | 'sslOverridesUrl' | 'signal'>): Promise<number> {
  const cpu = Math.min(MAX_DEFAULT_PARALLEL, TARGETS_PER_CPU * availableParallelism());
  if (!first) return cpu;
  const keeper = sessionKeeper();
  try {
    const c = await connect({
      databaseUrl: typeof first.databaseUrl === 'function' ? first.databaseUrl : () => first.databaseUrl as string,
      waitMs: 0, applicationName: `berth/${BERTH_VERSION}/fleet`, onEvent: () => undefined, keeper,
      ssl: { ...(common.sslmode ? { mode: common.sslmode } : {}), ...(common.sslrootcert ? { rootcert: common.sslrootcert } : {}), override: common.sslOverridesUrl ?? false },
      ...(common.signal ? { signal: common.signal } : {}),
    });
    try {
      const free = await c.driver.connectionHeadroom?.();
      return free === undefined ? cpu : Math.max(1, Math.min(cpu, Math.floor(free / 2)));
    } finally {
      await c.driver.close();
    }
  } catch {
    // The target itself reports why it cannot be reached, with its own class.
    return cpu;
  } finally {
    await keeper.closeAll();
  }
}

/**
 * The targets list of `--targets-query`: `sql` (one SELECT returning a `name` column, and
 * optionally `url`) run on the control database; only read.
 */
export async function queryTargets(databaseUrl: () => string, sql: string, common: Pick<MigratorOptions, 'sslmode' | 'sslrootcert' | 'sslOverridesUrl' | 'signal'> & { readonly waitMs?: number }): Promise<TargetList> {
  const keeper = sessionKeeper();
  const c = await connect({
    databaseUrl, waitMs: common.waitMs ?? 0, applicationName: `berth/${BERTH_VERSION}/targets-query`, onEvent: () => undefined, keeper,
    ssl: { ...(common.sslmode ? { mode: common.sslmode } : {}), ...(common.sslrootcert ? { rootcert: common.sslrootcert } : {}), override: common.sslOverridesUrl ?? false },
    ...(common.signal ? { signal: common.signal } : {}),
  });
  let rows: Record<string, unknown>[];
  try {
    rows = (await c.driver.execute(sql)).rows;
  } catch (err) {
    const e = toBerthError(err);
    throw new ConfigError('ERR_CONFIG_INVALID', `--targets-query failed on ${c.target.redacted}: ${e.message.split('\n')[0]} (it must be one SELECT returning a name column, and optionally url)`, { cause: err });
  } finally {
    await c.driver.close();
    await keeper.closeAll();
  }
  return targetListFromRows(rows, `--targets-query on ${c.target.redacted}`);
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import {
  buildTargets, ConfigError, createFleet, parseTargetList, queryTargets, type BerthEvent, type Fleet, type FleetEvent, type FleetReport, type FleetRun,
  type Shard, type TargetList, type TargetResult,
} from '../index.js';
import { parseDuration, formatDuration } from '../duration.js';
import type { CommandContext } from './context.js';
import { describeEvent, type Level } from './output.js';
import type { CommandOutcome, CommandSpec } from './commands/index.js';
import { parseVersionArg } from './commands/parse-version.js';
import { backupOptions, lintHook, lintMode } from './commands/migrate.js';
import { discoverRelease } from './release.js';

/** Per-target lines a fleet of hundreds would drown the log in: kept for BERTH_DEBUG. */
const QUIET_IN_FLEET = new Set(['connect.ok', 'lock.acquired', 'lock.released', 'plan.ready', 'history.created', 'await.reached']);
/** Rows of the per-target table on a terminal; beyond it, --report has them all. */
const TABLE_ROWS = 50;

/**
 * `migrate`, `status`, `check`, `validate` and `await` over a fleet: the targets from --targets
 * (a file or stdin) or --targets-query, this pod's shard of them, each run by its own migrator
 * (library `createFleet`), then the report: a table on a terminal, one JSON object otherwise, and
 * `--report <file>`. The exit code is the most severe class over all targets (core/fleet/report.ts).
 */
export async function runFleet(spec: CommandSpec, ctx: CommandContext, opts: Record<string, unknown>): Promise<CommandOutcome> {
  const { config, io, reporter } = ctx;
  if (!spec.fleet) {
    throw new ConfigError('ERR_USAGE', `berth ${spec.name} does not run over a fleet (--targets, --targets-query, --schema-per-target): ` +
      'migrate, status, check, validate and await do; run it once per target');
  }
  if (config.targets !== undefined && config.targetsQuery !== undefined) {
    throw new ConfigError('ERR_USAGE', '--targets and --targets-query both name the fleet: keep one');
  }
  if (config.targets === undefined && config.targetsQuery === undefined) {
    throw new ConfigError('ERR_USAGE', '--schema-per-target needs the list of schemas: --targets <file|-> or --targets-query <sql>');
  }
  const shard = shardOf(config);
  const { list, origin } = await readList(ctx);
  const targets = buildTargets({ list, baseUrl: config.databaseUrl, schemaPerTarget: config.schemaPerTarget, origin });
  if (targets.length === 0) throw new ConfigError('ERR_CONFIG_INVALID', `${origin} lists no targets`);
  if (config.http) {
    throw new ConfigError('ERR_USAGE', '--http (BERTH_HTTP) serves the progress of one target\'s run, not of a fleet: ' +
      'over a fleet, follow the log, and use --metrics-file / --metrics-push (a series per target) and --report for the outcome');
  }
  const release = config.release ?? discoverRelease(io.env);
  const metrics = config.metricsFile || config.metricsPush ? new (await import('./metrics.js')).FleetMetrics() : undefined;
  const fleet = createFleet({
    targets, failFast: config.failFast, canary: config.canary,
    ...(config.parallel !== undefined ? { parallel: config.parallel } : {}),
    ...(shard ? { shard } : {}),
    dir: config.dir.startsWith('/') ? config.dir : `${io.cwd}/${config.dir}`,
    table: config.table,
    allowEmpty: config.allowEmpty,
    wait: config.waitMs,
    lockTimeout: config.lockTimeoutMs,
    statementTimeout: config.statementTimeoutMs,
    lock: config.lock,
    leaseTtl: config.leaseTtlMs,
    ...(release ? { release } : {}),
    ...(config.sslmode ? { sslmode: config.sslmode } : {}),
    ...(config.sslrootcert ? { sslrootcert: config.sslrootcert } : {}),
    sslOverridesUrl: config.sslFromFlag,
    ...(io.env.HOSTNAME ? { host: io.env.HOSTNAME } : {}),
    signal: ctx.signal,
    onEvent: (e, target) => {
      metrics?.observe(e, target);
      log(ctx, e, target);
    },
  });
  const run = operation(spec.name, fleet, opts, ctx);
  // Drained as results come (the log already has each one): the report is the whole picture.
  for await (const result of run) void result;
  const report = await run.report();
  const json = JSON.stringify(withoutValues(report));
  // `status --json` asks for JSON on a terminal too.
  io.stdout.write(io.stdoutIsTTY && opts.json !== true ? table(report) : `${json}\n`);
  if (config.report) {
    try {
      const file = path.resolve(io.cwd, config.report);
      (await import('./metrics.js')).writeAtomically(file, `${JSON.stringify(withoutValues(report), null, 2)}\n`);
    } catch (err) {
      reporter.log('warn', `could not write --report ${config.report}: ${(err as Error).message}`, { event: 'report.failed' });
    }
  }
  if (metrics) await metrics.finish(report, config, io.env.HOSTNAME ?? 'berth', reporter);
  const c = report.counts;
  const parts = [`${c.applied} applied`, `${c.unchanged} unchanged`, `${c.ok} ok`, `${c.failed} failed`, `${c.interrupted} interrupted`, `${c.skipped} skipped`]
    .filter((p) => !p.startsWith('0 '));
  return {
    exitCode: report.exitCode,
    summary: `${spec.name} over ${report.targets} target(s)${shard ? ` (shard ${shard.index}/${shard.count})` : ''}: ` +
      `${parts.join(', ') || `none of the ${targets.length} listed is in this shard`}` +
      `${report.stopped === 'canary' ? '; a canary failed, the others were not touched' : report.stopped === 'fail-fast' ? '; stopped at the first failure (--fail-fast)' : ''}` +
      `${report.exitCode ? ` (exit ${report.exitCode}, the most severe class over the targets)` : ''}`,
    fields: { fleet: true, targets: report.targets, counts: report.counts, appliedMigrations: report.appliedMigrations, parallel: report.parallel, ...(shard ? { shard } : {}), ...(report.stopped ? { stopped: report.stopped } : {}) },
  };
}

function shardOf(config: ResolvedConfig): Shard | undefined {
  const s = config.shard;
  if (!s) return undefined;
  if (s.count === undefined) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but BERTH_SHARDS is not: ' +
      'pass the Job\'s .spec.completions into the pod as BERTH_SHARDS (see deploy/k8s/fleet/tenants-migrate.yaml), or give --shard i/n');
  }
  if (s.index >= s.count) throw new ConfigError('ERR_CONFIG_INVALID', `${s.from}: index ${s.index} is not below the count ${s.count}`);
  return { index: s.index, count: s.count };
}

async function readList(ctx: CommandContext): Promise<{ list: TargetList; origin: string }> {
  const { config, io } = ctx;
  if (config.targets !== undefined) {
    if (config.targets === '-') {
      if (!io.readStdin) throw new ConfigError('ERR_USAGE', '--targets -: this caller gives berth no stdin');
      return { list: parseTargetList(await io.readStdin(), '--targets - (stdin)'), origin: '--targets - (stdin)' };
    }
    const origin = `--targets ${config.targets}`;
    let text: string;
    try {
      text = readFileSync(path.resolve(io.cwd, config.targets), 'utf8');
    } catch (err) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${origin}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return { list: parseTargetList(text, origin), origin };
  }
  const control = config.targetsDatabaseUrl ?? config.databaseUrl;
  if (!control) throw new ConfigError('ERR_CONFIG_NO_URL', '--targets-query needs the control database it runs on: --targets-database <url> (or BERTH_TARGETS_DATABASE_URL[_FILE]), else -d');
  if (!config.targetsDatabaseUrl && control().includes('{name}')) {
    throw new ConfigError('ERR_USAGE', '--targets-query: the -d URL is a template ({name}), so it cannot be the control database; give --targets-database <url>');
  }
  const list = await queryTargets(control, config.targetsQuery!, {
    waitMs: config.waitMs, signal: ctx.signal, sslOverridesUrl: config.sslFromFlag,
    ...(config.sslmode ? { sslmode: config.sslmode } : {}), ...(config.sslrootcert ? { sslrootcert: config.sslrootcert } : {}),
  });
  return { list, origin: '--targets-query' };
}

function operation(command: string, fleet: Fleet, opts: Record<string, unknown>, ctx: CommandContext): FleetRun<unknown> {
  switch (command) {
    case 'migrate': {
      const to = parseVersionArg('--to', opts.to);
      // Each target backs itself up under its own lock, as a single run would (its schema only, with --schema-per-target).
      const backup = backupOptions(opts, ctx.io);
      return fleet.up({
        ...(to === undefined ? {} : { to }), ...(backup ? { backup } : {}), dryRun: opts.dryRun === true, singleTransaction: opts.singleTransaction === true, allowOutOfOrder: opts.allowOutOfOrder === true,
        // One linter for the fleet: each distinct set of pending files is linted and logged once.
        ...lintHook(ctx, lintMode(opts.lint, ctx.io.env.BERTH_LINT)),
      });
    }
    case 'status': return fleet.status();
    case 'check': {
      const expect = parseVersionArg('--expect', opts.expect);
      return fleet.check(expect === undefined ? {} : { expect });
    }
    case 'validate': return fleet.validate({ allowOutOfOrder: opts.allowOutOfOrder === true });
    case 'await': {
      const version = parseVersionArg('--version', opts.version);
      const timeoutText = typeof opts.timeout === 'string' ? opts.timeout : '10m';
      const timeout = parseDuration(timeoutText);
      if (timeout === undefined) throw new ConfigError('ERR_USAGE', `--timeout "${timeoutText}" is not a duration (use 500ms, 30s, 5m, 1h or seconds)`);
      return fleet.awaitSchema({ timeout, ...(version === undefined ? {} : { version }) });
    }
    default: throw new ConfigError('ERR_USAGE', `berth ${command} does not run over a fleet`);
  }
}

/** One log line per event; a target's own lines carry its name as `fleetTarget` (their fields keep their meaning). */
function log(ctx: CommandContext, e: BerthEvent | FleetEvent, target: string | undefined): void {
  if (e.event === 'fleet.started') {
    ctx.reporter.log('info', `${e.command} over ${e.targets} target(s), ${e.parallel} at once${e.shard ? ` (shard ${e.shard.index}/${e.shard.count})` : ''}${e.canary ? `, the first ${e.canary} as canaries` : ''}`, { ...e });
    return;
  }
  if (e.event === 'fleet.target.done') {
    const level: Level = e.result === 'failed' ? 'error' : e.result === 'interrupted' ? 'warn' : e.result === 'skipped' ? 'debug' : 'info';
    const what = e.result === 'failed' || e.result === 'interrupted' ? `${e.result} (exit ${e.exitCode}, ${e.code}): ${e.error}` : e.result === 'applied' ? `applied ${e.applied} migration(s)` : e.result;
    ctx.reporter.log(level, `[${e.target}] ${what} in ${formatDuration(e.durationMs)}`, { ...e });
    return;
  }
  if (e.event === 'fleet.stopped') {
    const why = e.reason === 'canary' ? 'a canary failed' : e.reason === 'fail-fast' ? 'a target failed (--fail-fast)' : 'interrupted';
    ctx.reporter.log('warn', `${why}: ${e.skipped} target(s) not touched`, { ...e });
    return;
  }
  const { level, msg } = describeEvent(e);
  ctx.reporter.log(QUIET_IN_FLEET.has(e.event) && level === 'info' ? 'debug' : level, `[${target}] ${msg}`, { ...e, ...(target ? { fleetTarget: target } : {}) });
}

function withoutValues(report: FleetReport): FleetReport {
  return { ...report, results: report.results.map(({ value: _value, ...r }) => r) };
}

/** The report for a person: counts, the slowest targets, the failed ones, and each target while there are few. */
export function table(report: FleetReport): string {
  const out: string[] = [];
  const grid = (rows: string[][]) => {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    out.push(...rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()), '');
  };
  const row = (r: TargetResult) => [r.target, r.result, r.exitCode === null ? '' : String(r.exitCode), r.applied.length ? String(r.applied.length) : '', r.current == null ? '' : String(r.current), formatDuration(r.durationMs), r.error ?? ''];
  if (report.results.length <= TABLE_ROWS) grid([['TARGET', 'RESULT', 'EXIT', 'APPLIED', 'VERSION', 'DURATION', 'ERROR'], ...report.results.map(row)]);
  grid([['RESULT', 'TARGETS'], ...Object.entries(report.counts).filter(([, n]) => n > 0).map(([k, n]) => [k, String(n)])]);
  if (report.results.length > TABLE_ROWS) {
    if (report.slowest.length) grid([['SLOWEST', 'DURATION', 'RESULT'], ...report.slowest.map((s) => [s.target, formatDuration(s.durationMs), s.result])]);
    if (report.failed.length) grid([['FAILED', 'EXIT', 'CODE', 'FIRST ERROR LINE'], ...report.failed.map((f) => [f.target, String(f.exitCode), f.code ?? '', f.error ?? ''])]);
  }
  out.push(`${report.targets} target(s), ${report.appliedMigrations} migration(s) applied, ${report.parallel} at once, in ${formatDuration(report.durationMs)}; exit ${report.exitCode}`);
  return `${out.join('\n')}\n`;
}

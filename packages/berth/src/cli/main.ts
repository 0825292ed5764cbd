import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { loadConfigFile } from '../config/config-file.js';
import { isFleetRun, resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import { SETTINGS, type SettingKey } from '../config/settings.js';
import { redactSecrets } from '../config/database-url.js';
import { BERTH_VERSION, BerthError, InterruptedError, InternalError, formatDuration, parseDatabaseUrl, type BerthEvent, type Migrator, type ProgressSnapshot } from '../index.js';
import type { HttpEndpoint } from './http.js';
import { makeMigrator, type CliIo, type CommandContext } from './context.js';
import { Reporter } from './output.js';
import { parseCommandLine } from './args.js';
import type { CommandSpec } from './commands/index.js';

/**
 * Runs one berth command and returns its exit code (SPEC §5). It never calls process.exit: the
 * bin script sets process.exitCode, and tests call this in-process with captured IO.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.kind) {
    case 'help':
    case 'version':
      io.stdout.write(parsed.text);
      return 0;
    case 'no-command':
      io.stderr.write(`${parsed.text}\nberth needs a command (exit 2): e.g. berth migrate --help\n`);
      return 2;
    case 'usage-error': {
      // Reported like every other error: a run.error and a run.summary line, JSON off a terminal.
      const reporter = fallbackReporter(io, { logFormat: logFormatIn(argv) });
      reporter.log('error', parsed.message, { event: 'run.error', code: 'ERR_USAGE', exitCode: 2 });
      reporter.log('error', `usage error (exit 2, ERR_USAGE)`, { event: 'run.summary', command: parsed.command ?? 'berth', ok: false, exitCode: 2, code: 'ERR_USAGE', durationMs: 0 });
      return 2;
    }
    case 'run':
      return execute(parsed.spec, parsed.opts, parsed.args, io);
  }
}

async function execute(spec: CommandSpec, opts: Record<string, unknown>, args: string[], io: CliIo): Promise<number> {
  const started = Date.now();
  io.tune?.('run');
  let config: ResolvedConfig | undefined;
  let reporter = fallbackReporter(io, opts);
  let metrics: MetricsSink | undefined;
  let migrator: Migrator | undefined;
  let endpoint: HttpEndpoint | undefined;
  let finished: { exitCode: number; pending: number | null } | undefined;
  const controller = new AbortController();
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    const code = signal === 'SIGINT' ? 130 : 143;
    // A second signal means "now": the server-side session limits clean up after us (SPEC §4.5).
    if (controller.signal.aborted) process.exit(code);
    reporter.log('warn', `${signal} received: cancelling the running statement and rolling back (send it again to exit at once)`, { event: 'run.interrupting', signal });
    controller.abort(new InterruptedError(signal));
    // Cancel and rollback take milliseconds; if the server does not answer, still leave within
    // the 5 s an orchestrator grants before SIGKILL. The lock dies with the session.
    setTimeout(() => process.exit(code), 4_500).unref();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const file = await loadConfigFile({ cwd: io.cwd, ...(typeof opts.config === 'string' ? { explicit: opts.config } : {}) });
    config = resolveConfig({ flags: flagValues(opts), env: io.env, readFile: (p) => readFileSync(p, 'utf8'), ...(file ? { file } : {}) });
    // The commands with a short list of their own settings (new, lint) touch no database: fleet
    // settings (in a config file shared with migrate, say) do not make them run over a fleet, as
    // -d does not make them connect; `berth lint` reads --schema-per-target as how its files run.
    const fleet = isFleetRun(config) && spec.settings === undefined;
    reporter = makeReporter(io, config, fleet);
    const resolved = config;
    // A fleet run writes its own metrics, per target (cli/fleet.ts).
    if (!fleet && (config.metricsFile || config.metricsPush || config.http)) metrics = await startMetrics(config, io, reporter, () => migrator?.progress());
    if (config.http && metrics) {
      const { serveHttp } = await import('./http.js');
      endpoint = await serveHttp(config.http, metrics.text, { progress: () => migrator?.progress(), outcome: () => finished });
      reporter.log('info', `serving /metrics, /healthz and /readyz on ${endpoint.address}`, { event: 'http.listening', address: endpoint.address, port: endpoint.port });
    }
    const ctx: CommandContext = {
      config: resolved,
      reporter,
      io,
      signal: controller.signal,
      migrator: () => (migrator ??= makeMigrator(resolved, io, (e) => {
        reporter.event(e);
        metrics?.observe(e);
      }, controller.signal)),
    };
    const outcome = fleet ? await (await import('./fleet.js')).runFleet(spec, ctx, opts) : await (await spec.load())(ctx, opts, args);
    await metrics?.finish(true, Date.now() - started, outcome.fields);
    finished = { exitCode: outcome.exitCode, pending: typeof outcome.fields?.pending === 'number' ? outcome.fields.pending : null };
    reporter.log(outcome.exitCode === 0 ? 'info' : 'error', outcome.summary ?? `${spec.name} finished`, {
      event: 'run.summary', command: spec.name, ok: outcome.exitCode === 0, exitCode: outcome.exitCode,
      durationMs: Date.now() - started, ...outcome.fields,
    });
    return outcome.exitCode;
  } catch (caught) {
    // The signal's own error, unless the run says more precisely what the interrupt left behind.
    const error = controller.signal.aborted && controller.signal.reason instanceof InterruptedError && !(caught instanceof InterruptedError)
      ? controller.signal.reason
      : toError(caught, config ? secretsOf(config) : []);
    await metrics?.finish(false, Date.now() - started);
    finished = { exitCode: error.exitCode, pending: null };
    reporter.log('error', error.message, { event: 'run.error', code: error.code, exitCode: error.exitCode, ...(error instanceof InternalError && error.cause instanceof Error && error.cause.stack ? { stack: redactSecrets(error.cause.stack, config ? secretsOf(config) : []) } : {}) });
    reporter.log('error', `${spec.name} failed (exit ${error.exitCode}, ${error.code})`, {
      event: 'run.summary', command: spec.name, ok: false, exitCode: error.exitCode, code: error.code, durationMs: Date.now() - started,
    });
    return error.exitCode;
  } finally {
    // Ends what outlives a single operation (an embedded database).
    await migrator?.close().catch(() => undefined);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    // An interrupted run leaves at once: whoever sent the signal wants the pod gone.
    if (endpoint && finished && config && config.lingerMs > 0 && !controller.signal.aborted) await linger(config.lingerMs, reporter);
    await endpoint?.close();
  }
}

/**
 * Keeps `--http` serving after the command, so a scrape catches the final state. A signal ends
 * the wait at once; the command's exit code stands (it already happened).
 */
async function linger(ms: number, reporter: Reporter): Promise<void> {
  reporter.log('info', `serving the final state for --linger ${formatDuration(ms)} (SIGTERM ends it now)`, { event: 'http.lingering', lingerMs: ms });
  let stop = (): void => undefined;
  const timer = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    stop = () => {
      clearTimeout(t);
      resolve();
    };
  });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await timer;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

interface MetricsSink {
  observe(e: BerthEvent): void;
  /** The metrics as a scrape sees them now. */
  text(): Promise<string>;
  finish(ok: boolean, durationMs: number, fields?: Record<string, unknown>): Promise<void>;
}

/**
 * Metrics are written or pushed after the run, whatever its outcome; a metrics failure is a
 * warning and never changes the exit code. prom-client is loaded only when they are asked for.
 */
async function startMetrics(config: ResolvedConfig, io: CliIo, reporter: Reporter, progress: () => ProgressSnapshot | undefined): Promise<MetricsSink> {
  const { RunMetrics, previousLastSuccess, writeAtomically } = await import('./metrics.js');
  const metrics = new RunMetrics({ database: databaseLabel(config), table: `${config.schema ?? 'public'}.${config.table}` }, progress);
  return {
    observe: metrics.observe,
    text: () => metrics.text(),
    async finish(ok, durationMs, fields = {}) {
      const text = await metrics.render({
        ok, durationMs,
        ...(typeof fields.current === 'number' || fields.current === null ? { current: fields.current as number | null } : {}),
        ...(typeof fields.pending === 'number' ? { pending: fields.pending } : {}),
        ...(config.metricsFile ? { previousLastSuccess: previousLastSuccess(config.metricsFile) } : {}),
      });
      if (config.metricsFile) {
        try {
          writeAtomically(config.metricsFile, text);
        } catch (err) {
          reporter.log('warn', `could not write --metrics-file ${config.metricsFile}: ${(err as Error).message}`, { event: 'metrics.failed', target: 'file' });
        }
      }
      if (config.metricsPush) {
        const failure = await metrics.push(config.metricsPush, io.env.HOSTNAME ?? 'berth');
        if (failure) reporter.log('warn', `could not push metrics to ${config.metricsPush}: ${failure} (the run's outcome is unchanged)`, { event: 'metrics.failed', target: 'push' });
      }
    },
  };
}

function databaseLabel(config: ResolvedConfig): string {
  try {
    return parseDatabaseUrl(config.databaseUrl?.() ?? '').label;
  } catch {
    return 'unknown';
  }
}

/** `--log-format` as written on a command line that could not be parsed as a whole. */
function logFormatIn(argv: readonly string[]): string | undefined {
  const at = argv.findIndex((a) => a === '--log-format' || a.startsWith('--log-format='));
  if (at < 0) return undefined;
  return argv[at]!.includes('=') ? argv[at]!.split('=')[1] : argv[at + 1];
}

function toError(err: unknown, secrets: readonly (string | undefined)[]): BerthError {
  if (err instanceof BerthError) return err;
  // Not berth's words: whatever threw it may have quoted the connection string.
  const message = redactSecrets(err instanceof Error ? err.message : String(err), secrets);
  return new InternalError('ERR_INTERNAL', `internal error: ${message} (this is a bug in berth ${BERTH_VERSION}; please report it)`, { cause: err });
}

function flagValues(opts: Record<string, unknown>): Partial<Record<SettingKey, string | boolean>> {
  const flags: Partial<Record<SettingKey, string | boolean>> = {};
  for (const s of SETTINGS) {
    const value = opts[s.key];
    if (typeof value === 'string' || typeof value === 'boolean') flags[s.key] = value;
  }
  return flags;
}

function makeReporter(io: CliIo, config: ResolvedConfig, fleet: boolean): Reporter {
  const format = config.logFormat ?? (io.stderrIsTTY ? 'pretty' : 'json');
  return new Reporter({
    format,
    quiet: config.quiet,
    debug: Boolean(io.env.BERTH_DEBUG),
    color: format === 'pretty' && io.stderrIsTTY && !io.env.NO_COLOR,
    stderr: io.stderr,
    // Many targets at once would fight over one progress line: a fleet logs each target's result.
    progress: format === 'pretty' && io.stderrIsTTY && !config.quiet && !fleet,
  });
}

/** Before the configuration is known: JSON unless on a terminal, and mask any URL's password. */
function fallbackReporter(io: CliIo, opts: Record<string, unknown>): Reporter {
  const explicit = opts.logFormat === 'json' || opts.logFormat === 'pretty' ? opts.logFormat : undefined;
  return new Reporter({
    format: explicit ?? (io.stderrIsTTY ? 'pretty' : 'json'),
    quiet: false,
    debug: false,
    color: false,
    stderr: io.stderr,
  });
}

function secretsOf(config: ResolvedConfig): string[] {
  try {
    const url = config.databaseUrl?.();
    if (!url) return [];
    return [...parseDatabaseUrl(url).secrets];
  } catch {
    return [];
  }
}

export function processIo(): CliIo {
  // `berth --help | head` closes the pipe early: that is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    tune: tuneProcess,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

const tuned = new Set<string>();

/**
 * A CLI run is short and often runs under a container memory limit, so it trades peak speed for
 * footprint (bench/: peak RSS applying 1,000 migrations, lint on, 80 -> 68 MiB). Flags are set
 * once the bundle is compiled: V8 accepts a code cache only under the flags that trained it.
 */
function tuneProcess(profile: 'wasm' | 'run'): void {
  if (tuned.has(profile)) return;
  tuned.add(profile);
  // Optimising a WebAssembly module as large as the lint parser or PGlite costs more memory and
  // time than a run ever wins back: stay on V8's baseline compiler.
  if (profile === 'wasm') {
    setFlagsFromString('--liftoff-only');
    return;
  }
  // Node compiles a built-in first loaded after a flag change without its embedded code cache:
  // load first those that pg's client loads on connecting (~9 ms of a no-op `migrate`).
  const load = createRequire(import.meta.url);
  load('node:dns');
  void (load('node:crypto') as typeof import('node:crypto')).webcrypto;
  // A run waits on the database, not on JavaScript: the optimising compilers' memory (~11 MiB)
  // buys nothing, and the CPU time of a 1,000-migration run stays the same without it. Reading
  // many migrations keeps many young objects alive: a young generation that does not grow keeps
  // that from inflating the heap.
  setFlagsFromString('--no-turbofan --no-maglev --semi-space-growth-factor=1');
}

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import { SETTINGS, type SettingKey } from '../config/settings.js';
import { parseDatabaseUrl } from '../config/database-url.js';
import { BERTH_VERSION, BerthError, InterruptedError, InternalError } from '../index.js';
import { makeMigrator, type CliIo, type CommandContext } from './context.js';
import { Reporter } from './output.js';
import { COMMANDS, type CommandSpec } from './commands/index.js';

/**
 * Runs one berth command and returns its exit code (SPEC §5). It never calls process.exit: the
 * bin script sets process.exitCode, and tests call this in-process with captured IO.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let selected: { spec: CommandSpec; opts: Record<string, unknown>; args: string[] } | undefined;
  const program = buildProgram(io, (spec, opts, args) => {
    selected = { spec, opts, args };
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; anything else commander rejects is a usage error.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    throw err;
  }
  if (!selected) {
    io.stdout.write(program.helpInformation());
    return 0;
  }
  return execute(selected.spec, selected.opts, selected.args, io);
}

async function execute(spec: CommandSpec, opts: Record<string, unknown>, args: string[], io: CliIo): Promise<number> {
  const started = Date.now();
  let config: ResolvedConfig | undefined;
  let reporter = fallbackReporter(io, opts);
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
    config = resolveConfig({ flags: flagValues(opts), env: io.env, readFile: (p) => readFileSync(p, 'utf8') });
    reporter = makeReporter(io, config);
    const resolved = config;
    const ctx: CommandContext = {
      config: resolved,
      reporter,
      io,
      signal: controller.signal,
      migrator: () => makeMigrator(resolved, io, reporter, controller.signal),
    };
    const run = await spec.load();
    const outcome = await run(ctx, opts, args);
    reporter.log(outcome.exitCode === 0 ? 'info' : 'error', outcome.summary ?? `${spec.name} finished`, {
      event: 'run.summary', command: spec.name, ok: outcome.exitCode === 0, exitCode: outcome.exitCode,
      durationMs: Date.now() - started, ...outcome.fields,
    });
    return outcome.exitCode;
  } catch (caught) {
    const error = controller.signal.aborted && controller.signal.reason instanceof InterruptedError
      ? controller.signal.reason
      : toError(caught);
    reporter.log('error', error.message, { event: 'run.error', code: error.code, exitCode: error.exitCode, ...(error instanceof InternalError ? { stack: error.cause instanceof Error ? error.cause.stack : undefined } : {}) });
    reporter.log('error', `${spec.name} failed (exit ${error.exitCode}, ${error.code})`, {
      event: 'run.summary', command: spec.name, ok: false, exitCode: error.exitCode, code: error.code, durationMs: Date.now() - started,
    });
    return error.exitCode;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

function toError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError('ERR_INTERNAL', `internal error: ${message} (this is a bug in berth ${BERTH_VERSION}; please report it)`, { cause: err });
}

function buildProgram(io: CliIo, select: (spec: CommandSpec, opts: Record<string, unknown>, args: string[]) => void): Command {
  const program = new Command('berth')
    .description('Database migrations built for containers: exactly once under any number of runners, waits for the database, clear failure states.')
    .version(BERTH_VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Exit codes: 0 ok, 1 migration failed, 2 usage/config, 3 database unreachable, 4 lock timeout,
5 validation (drift, missing, out-of-order, failed migration), 6 target rejected (auth, TLS, standby,
pooler), 7 outcome unknown (connection lost; rerun), 130/143 interrupted.

Examples:
  berth migrate -d postgres://app@db:5432/app --wait 60s
  DATABASE_URL_FILE=/run/secrets/db_url berth status --json
  berth migrate -d pglite://memory --dir ./migrations --dry-run`);
  for (const spec of COMMANDS) {
    const cmd = program.command(spec.usage).description(spec.description).exitOverride()
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    for (const o of spec.options) {
      const option = new Option(o.flags, o.description);
      cmd.addOption(option);
    }
    for (const s of SETTINGS) {
      const env = s.env.map((e) => `${e}`).join(', ');
      const text = `${s.description} [env: ${env}${s.secret ? ' or *_FILE' : ''}]${s.defaultText ? ` (default: ${s.defaultText})` : ''}`;
      cmd.addOption(new Option(s.flag, text));
    }
    cmd.addHelpText('after', `\nEvery variable X above also accepts X_FILE (a file holding the value, e.g. a mounted secret).\n\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}`);
    cmd.action((...received: unknown[]) => {
      const command = received[received.length - 1] as Command;
      select(spec, command.opts(), command.args);
    });
  }
  return program;
}

function flagValues(opts: Record<string, unknown>): Partial<Record<SettingKey, string | boolean>> {
  const flags: Partial<Record<SettingKey, string | boolean>> = {};
  for (const s of SETTINGS) {
    const value = opts[s.key];
    if (typeof value === 'string' || typeof value === 'boolean') flags[s.key] = value;
  }
  return flags;
}

function makeReporter(io: CliIo, config: ResolvedConfig): Reporter {
  const format = config.logFormat ?? (io.stderrIsTTY ? 'pretty' : 'json');
  return new Reporter({
    format,
    quiet: config.quiet,
    debug: Boolean(io.env.BERTH_DEBUG),
    color: format === 'pretty' && io.stderrIsTTY && !io.env.NO_COLOR,
    stderr: io.stderr,
    secrets: ((known) => () => known)(secretsOf(config)),
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
    secrets: () => [],
  });
}

function secretsOf(config: ResolvedConfig): (string | undefined)[] {
  try {
    const url = config.databaseUrl?.();
    if (!url) return [];
    const target = parseDatabaseUrl(url);
    return target.kind === 'postgres' ? [target.password] : [];
  } catch {
    return [];
  }
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}


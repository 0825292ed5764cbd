import { ConfigError, driverFor, parseDatabaseUrl } from '../../index.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

export const migrate: CommandRun = async (ctx, opts) => {
  const to = parseVersionArg('--to', opts.to);
  const lint = lintMode(opts.lint, ctx.io.env.BERTH_LINT);
  const m = ctx.migrator();
  const result = await m.up({
    ...(to === undefined ? {} : { to }),
    dryRun: opts.dryRun === true,
    singleTransaction: opts.singleTransaction === true,
    allowOutOfOrder: opts.allowOutOfOrder === true,
    // The lint code and its WASM parser load only when something is about to be applied.
    ...(lint === 'off' ? {} : { beforeApply: async (planned, target) => {
      if (!lintsTarget(ctx.config.databaseUrl?.())) {
        ctx.reporter.log(lint === 'error' ? 'warn' : 'info', 'lint: not run: berth lint reads PostgreSQL statements, and this target speaks another dialect', { event: 'lint.skipped', reason: 'dialect' });
        return;
      }
      await (await import('./lint.js')).lintPending(ctx, lint, planned, target);
    } }),
  });
  if (result.dryRun) {
    const lines = result.planned.length === 0
      ? ['nothing to apply']
      : result.planned.map((p) => `would apply ${p.version} ${p.name} (${p.file})`);
    ctx.io.stdout.write(`${lines.join('\n')}\n`);
  }
  const fields = {
    applied: result.applied.length, current: result.current, pending: result.pending, lockWaitMs: result.lockWaitMs, dryRun: result.dryRun,
  };
  const summary = result.dryRun
    ? `dry run: ${result.planned.length} migration(s) would be applied; nothing was changed`
    : result.applied.length === 0
      ? `schema is up to date at version ${result.current ?? 'none'}`
      : `applied ${result.applied.length} migration(s); schema is at version ${result.current}`;
  return { exitCode: 0, summary, fields };
};

/** The linter knows PostgreSQL's grammar and rules: a MySQL target's files are not linted. */
function lintsTarget(url: string | undefined): boolean {
  try {
    return url === undefined || driverFor(parseDatabaseUrl(url)).dialect.lint;
  } catch {
    return true;
  }
}

/** `--lint`, else `BERTH_LINT`: off, warn (the default: print findings and go on) or error. */
function lintMode(flag: unknown, env: string | undefined): 'off' | 'warn' | 'error' {
  const [value, source] = flag !== undefined ? [flag, '--lint'] : env ? [env, 'BERTH_LINT'] : ['warn', 'default'];
  if (value === 'off' || value === 'warn' || value === 'error') return value;
  throw new ConfigError('ERR_USAGE', `${source}: "${String(value)}" is not one of off, warn, error`);
}

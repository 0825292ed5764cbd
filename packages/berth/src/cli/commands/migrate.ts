import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type BackupOptions, type UpOptions } from '../../index.js';
import type { CommandContext } from '../context.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

export const migrate: CommandRun = async (ctx, opts) => {
  const to = parseVersionArg('--to', opts.to);
  const lint = lintMode(opts.lint, ctx.io.env.BERTH_LINT);
  const backup = backupOptions(opts, ctx.io);
  const m = ctx.migrator();
  const result = await m.up({
    ...(backup ? { backup } : {}),
    ...(to === undefined ? {} : { to }),
    dryRun: opts.dryRun === true,
    singleTransaction: opts.singleTransaction === true,
    allowOutOfOrder: opts.allowOutOfOrder === true,
    ...lintHook(ctx, lint),
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

/** `--backup-command` / `--backup-dir` / `--backup-when`, each else its BERTH_BACKUP_* variable (or its _FILE). */
export function backupOptions(opts: Record<string, unknown>, io: { env: Readonly<Record<string, string | undefined>>; cwd: string }): BackupOptions | undefined {
  const pick = (flag: unknown, name: string): { value: string; source: string } | undefined => {
    if (typeof flag === 'string') return { value: flag, source: `--${name}` };
    const variable = `BERTH_${name.toUpperCase().replace(/-/g, '_')}`;
    const value = io.env[variable];
    const file = io.env[`${variable}_FILE`];
    if (value && file) throw new ConfigError('ERR_CONFIG_INVALID', `${variable} and ${variable}_FILE are both set: keep one`);
    if (file) {
      try {
        return { value: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), source: `${variable}_FILE=${file}` };
      } catch (err) {
        throw new ConfigError('ERR_CONFIG_INVALID', `${variable}_FILE (environment): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    return value ? { value, source: variable } : undefined;
  };
  const command = pick(opts.backupCommand, 'backup-command');
  const dir = pick(opts.backupDir, 'backup-dir');
  const when = pick(opts.backupWhen, 'backup-when');
  if (when && !['always', 'pending', 'no-transaction'].includes(when.value)) {
    throw new ConfigError('ERR_USAGE', `${when.source}: "${when.value}" is not one of always, pending, no-transaction`);
  }
  if (!command && !dir) {
    if (when) throw new ConfigError('ERR_USAGE', `${when.source} needs --backup-command or --backup-dir (BERTH_BACKUP_COMMAND, BERTH_BACKUP_DIR): there is no backup to run`);
    return undefined;
  }
  if (command && dir) throw new ConfigError('ERR_USAGE', `${command.source} and ${dir.source} are both set: keep one`);
  const given = (command ?? dir)!;
  if (given.value.trim() === '') throw new ConfigError('ERR_USAGE', `${given.source} is empty`);
  return {
    ...(command ? { command: command.value } : {}),
    ...(dir ? { dir: path.resolve(io.cwd, dir.value) } : {}),
    ...(when ? { when: when.value as NonNullable<BackupOptions['when']> } : {}),
    env: io.env,
  };
}

/**
 * `beforeApply` for `--lint warn|error` (commands/lint.ts `pendingLinter`), one for a single run or
 * a whole fleet. The lint code and its WASM parser load only when something is about to be applied.
 */
export function lintHook(ctx: CommandContext, mode: 'off' | 'warn' | 'error'): Pick<UpOptions, 'beforeApply'> {
  if (mode === 'off') return {};
  let linter: Promise<NonNullable<UpOptions['beforeApply']>> | undefined;
  return {
    beforeApply: async (planned, target) => {
      linter ??= import('./lint.js').then((l) => l.pendingLinter(ctx, mode));
      await (await linter)(planned, target);
    },
  };
}

/** `--lint`, else `BERTH_LINT`: off, warn (the default: print findings and go on) or error. */
export function lintMode(flag: unknown, env: string | undefined): 'off' | 'warn' | 'error' {
  const [value, source] = flag !== undefined ? [flag, '--lint'] : env ? [env, 'BERTH_LINT'] : ['warn', 'default'];
  if (value === 'off' || value === 'warn' || value === 'error') return value;
  throw new ConfigError('ERR_USAGE', `${source}: "${String(value)}" is not one of off, warn, error`);
}

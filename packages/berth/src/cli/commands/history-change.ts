import { ConfigError, type HistoryChangeReport } from '../../index.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

function print(out: { write(s: string): unknown }, changes: readonly HistoryChangeReport[], none: string): void {
  out.write(changes.length === 0 ? `${none}\n` : `${changes.map((c) => `${c.version} ${c.name}: ${c.change}`).join('\n')}\n`);
}

export const repair: CommandRun = async (ctx) => {
  const changes = await ctx.migrator().repair();
  print(ctx.io.stdout, changes, 'nothing to repair: every stored checksum matches its file');
  return { exitCode: 0, summary: `repaired ${changes.length} checksum(s)`, fields: { changed: changes.length } };
};

export const resolve: CommandRun = async (ctx, opts, args) => {
  const version = parseVersionArg('<version>', args[0]);
  if (version === undefined) throw new ConfigError('ERR_USAGE', 'resolve needs the version of the failed migration: berth resolve <version> --applied | --rolled-back');
  if ((opts.applied === true) === (opts.rolledBack === true)) {
    throw new ConfigError('ERR_USAGE', 'resolve needs exactly one of --applied (its effects are complete) or --rolled-back (you undid them; it will run again)');
  }
  const change = await ctx.migrator().resolve(version, opts.applied === true ? 'applied' : 'rolled-back');
  print(ctx.io.stdout, [change], '');
  return { exitCode: 0, summary: `resolved migration ${version}: ${change.change}`, fields: { version } };
};

export const baseline: CommandRun = async (ctx, _opts, args) => {
  const version = parseVersionArg('<version>', args[0]);
  if (version === undefined) throw new ConfigError('ERR_USAGE', 'baseline needs a version: berth baseline <version> records every migration up to it as applied');
  const changes = await ctx.migrator().baseline(version);
  print(ctx.io.stdout, changes, `nothing to record: every migration up to ${version} is already in the history table`);
  return { exitCode: 0, summary: `baseline ${version}: recorded ${changes.length} migration(s) as applied`, fields: { recorded: changes.length } };
};

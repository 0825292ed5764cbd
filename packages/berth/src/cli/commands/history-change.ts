import { ConfigError, type BaselineFrom, type HistoryChangeReport } from '../../index.js';
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

export const baseline: CommandRun = async (ctx, opts, args) => {
  if (opts.from !== undefined) {
    if (args[0] !== undefined) throw new ConfigError('ERR_USAGE', 'baseline takes a <version> or --from <tool>, not both');
    const from = String(opts.from) as BaselineFrom['from'];
    const changes = await ctx.migrator().baseline({ from, ...(typeof opts.fromTable === 'string' ? { fromTable: opts.fromTable } : {}) });
    print(ctx.io.stdout, changes, `nothing to record: every migration ${from} recorded is already in berth's history`);
    return {
      exitCode: 0,
      summary: `baseline --from ${from}: recorded ${changes.length} migration(s) as applied; ${from}'s table was left as it is`,
      fields: { recorded: changes.length, from },
    };
  }
  if (opts.fromTable !== undefined) throw new ConfigError('ERR_USAGE', '--from-table names the other tool\'s table: it needs --from <tool>');
  const version = parseVersionArg('<version>', args[0]);
  if (version === undefined) {
    throw new ConfigError('ERR_USAGE', 'baseline needs a version or --from: berth baseline <version> records every migration up to it as applied; ' +
      'berth baseline --from golang-migrate|dbmate|node-pg-migrate takes over what that tool recorded');
  }
  const changes = await ctx.migrator().baseline(version);
  print(ctx.io.stdout, changes, `nothing to record: every migration up to ${version} is already in the history table`);
  return { exitCode: 0, summary: `baseline ${version}: recorded ${changes.length} migration(s) as applied`, fields: { recorded: changes.length } };
};

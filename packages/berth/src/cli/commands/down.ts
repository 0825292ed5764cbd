import { ConfigError } from '../../index.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

export const down: CommandRun = async (ctx, opts) => {
  const given = [opts.steps !== undefined, opts.to !== undefined, opts.all === true].filter(Boolean).length;
  if (given !== 1) {
    throw new ConfigError('ERR_USAGE', 'down needs exactly one of --steps <n>, --to <version> or --all (nothing is rolled back by default)');
  }
  let target: { steps: number } | { to: number } | { all: true };
  if (opts.steps !== undefined) {
    const steps = Number(opts.steps);
    if (!/^\d+$/.test(String(opts.steps)) || steps < 1) throw new ConfigError('ERR_USAGE', `--steps "${String(opts.steps)}" is not a positive whole number`);
    target = { steps };
  } else if (opts.to !== undefined) {
    target = { to: parseVersionArg('--to', opts.to)! };
  } else {
    target = { all: true };
  }
  const result = await ctx.migrator().down(target);
  const summary = result.reverted.length === 0
    ? `nothing to roll back; schema is at version ${result.current ?? 'none'}`
    : `rolled back ${result.reverted.length} migration(s); schema is at version ${result.current ?? 'none'}`;
  return { exitCode: 0, summary, fields: { reverted: result.reverted.length, current: result.current } };
};

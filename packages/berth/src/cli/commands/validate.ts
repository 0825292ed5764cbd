import type { CommandRun } from './index.js';

export const validate: CommandRun = async (ctx, opts) => {
  const report = await ctx.migrator().validate({ allowOutOfOrder: opts.allowOutOfOrder === true });
  ctx.io.stdout.write(`valid: ${report.applied.length} applied, ${report.pending.length} pending, no drift\n`);
  return { exitCode: 0, summary: `migrations are valid; schema is at version ${report.current ?? 'none'}`, fields: { current: report.current, pending: report.pending.length } };
};

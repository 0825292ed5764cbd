import type { CommandRun } from './index.js';

export const wait: CommandRun = async (ctx) => {
  await ctx.migrator().wait();
  return { exitCode: 0, summary: 'the database accepts connections' };
};

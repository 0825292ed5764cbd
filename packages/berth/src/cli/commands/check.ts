import { ValidationError } from '../../index.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

export const check: CommandRun = async (ctx, opts) => {
  const expect = parseVersionArg('--expect', opts.expect);
  const result = await ctx.migrator().check(expect === undefined ? {} : { expect });
  if (!result.upToDate) {
    throw new ValidationError('ERR_SCHEMA_NOT_CURRENT', `schema is not current: ${result.reason}`, { details: { current: result.current, pending: result.pending } });
  }
  ctx.io.stdout.write(`schema is current at version ${result.current ?? 'none'}\n`);
  return { exitCode: 0, summary: `schema is current at version ${result.current ?? 'none'}`, fields: { current: result.current, pending: 0 } };
};

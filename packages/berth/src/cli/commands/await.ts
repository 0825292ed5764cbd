import { ConfigError } from '../../index.js';
import { parseDuration } from '../../duration.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

export const awaitCommand: CommandRun = async (ctx, opts) => {
  const version = parseVersionArg('--version', opts.version);
  const timeoutText = typeof opts.timeout === 'string' ? opts.timeout : '10m';
  const timeout = parseDuration(timeoutText);
  if (timeout === undefined) throw new ConfigError('ERR_USAGE', `--timeout "${timeoutText}" is not a duration (use 500ms, 30s, 5m, 1h or seconds)`);
  const result = await ctx.migrator().awaitSchema({ timeout, ...(version === undefined ? {} : { version }) });
  ctx.io.stdout.write(`schema is at version ${result.current} (expected ${result.expected})\n`);
  return { exitCode: 0, summary: `schema reached version ${result.current}`, fields: { current: result.current, expected: result.expected, waitedMs: result.waitedMs } };
};

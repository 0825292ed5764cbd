import { ConfigError } from '../../index.js';
import { parseDuration } from '../../duration.js';
import type { CommandRun } from './index.js';
import { parseVersionArg } from './parse-version.js';

export const awaitCommand: CommandRun = async (ctx, opts) => {
  const version = parseVersionArg('--version', opts.version);
  const timeoutText = typeof opts.timeout === 'string' ? opts.timeout : '10m';
  const timeout = parseDuration(timeoutText);
  if (timeout === undefined) throw new ConfigError('ERR_USAGE', `--timeout "${timeoutText}" is not a duration (use 500ms, 30s, 5m, 1h or seconds)`);
  // Only a release named here: one discovered from this pod's name would be the app's, not the migration Job's.
  const release = ctx.config.release;
  const result = await ctx.migrator().awaitSchema({ timeout, ...(version === undefined ? {} : { version }), ...(release ? { release } : {}) });
  const of = release ? `, migrated by release ${release}` : '';
  ctx.io.stdout.write(`schema is at version ${result.current} (expected ${result.expected}${of})\n`);
  return {
    exitCode: 0, summary: `schema reached version ${result.current}${of}`,
    fields: { current: result.current, expected: result.expected, waitedMs: result.waitedMs, ...(release ? { release } : {}) },
  };
};

/**
 * berth's defaults, in one object, written as an operator writes them (durations as in flags).
 * The CLI's settings table, its resolver and the library's options all read them from here.
 */
export const DEFAULTS = Object.freeze({
  dir: './migrations',
  table: 'berth_migrations',
  /** One connection attempt. */
  wait: '0',
  lockTimeout: '15m',
  /** No statement_timeout. */
  statementTimeout: '0',
  allowEmpty: false,
  quiet: false,
  /** Fleets: every target is run, then reported; no canary. */
  schemaPerTarget: false,
  failFast: false,
  canary: '0',
});

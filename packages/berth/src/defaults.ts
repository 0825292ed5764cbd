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
  /** The session advisory lock, as before the lease existed; auto and lease are asked for. */
  lock: 'advisory',
  /** A lease unrenewed this long is free; renewed every sixth of it (5 s). */
  leaseTtl: '30s',
  allowEmpty: false,
  /** --http stops serving as soon as the command is done. */
  linger: '0',
  quiet: false,
  /** Fleets: every target is run, then reported; no canary. */
  schemaPerTarget: false,
  failFast: false,
  canary: '0',
});

import type { ResolvedConfig } from '../config/resolve.js';
import { createMigrator, ConfigError, driverFor, parseDatabaseUrl, type EventListener, type Migrator } from '../index.js';
import type { Reporter, Writable } from './output.js';
import { discoverRelease } from './release.js';

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /**
   * Tunes the process for what comes next; only the real process does (`processIo`), never a
   * caller that runs berth in its own process. `run`: a command starts. `wasm`: the lint parser
   * or PGlite is about to load.
   */
  readonly tune?: (profile: 'wasm' | 'run') => void;
  /** All of stdin, for `--targets -`; absent where the caller has none to give. */
  readonly readStdin?: () => Promise<string>;
}

export interface CommandContext {
  readonly config: ResolvedConfig;
  readonly reporter: Reporter;
  readonly io: CliIo;
  readonly signal: AbortSignal;
  /** Builds the migrator; fails with exit 2 when no usable database URL was given. */
  migrator(): Migrator;
}

export function makeMigrator(config: ResolvedConfig, io: CliIo, onEvent: EventListener, signal: AbortSignal): Migrator {
  if (!config.databaseUrl) {
    throw new ConfigError('ERR_CONFIG_NO_URL',
      'no database URL: pass --database-url, or set DATABASE_URL / BERTH_DATABASE_URL (or their _FILE variants). ' +
      'berth never falls back to a default database; use pglite://memory for an embedded one.');
  }
  // Validated once up front, so a bad URL fails fast (exit 2) before any file is read or any
  // connection is attempted; it is parsed again for each attempt in case its secret file rotates.
  if (driverFor(parseDatabaseUrl(config.databaseUrl(), describeUrlSource(config))).capabilities.inProcess) io.tune?.('wasm');
  const release = config.release ?? discoverRelease(io.env);
  return createMigrator({
    databaseUrl: config.databaseUrl,
    dir: config.dir.startsWith('/') ? config.dir : `${io.cwd}/${config.dir}`,
    table: config.table,
    allowEmpty: config.allowEmpty,
    ...(config.schema ? { schema: config.schema } : {}),
    wait: config.waitMs,
    lockTimeout: config.lockTimeoutMs,
    statementTimeout: config.statementTimeoutMs,
    lock: config.lock,
    leaseTtl: config.leaseTtlMs,
    ...(config.sslmode ? { sslmode: config.sslmode } : {}),
    ...(config.sslrootcert ? { sslrootcert: config.sslrootcert } : {}),
    sslOverridesUrl: config.sslFromFlag,
    ...(io.env.HOSTNAME ? { host: io.env.HOSTNAME } : {}),
    ...(release ? { release } : {}),
    onEvent,
    signal,
  });
}

function describeUrlSource(config: ResolvedConfig): string {
  const s = config.sources.databaseUrl;
  if (!s || s.kind === 'default') return 'the database URL';
  if (s.kind === 'flag') return `the database URL from ${s.name}`;
  return `the database URL from ${s.name}`;
}

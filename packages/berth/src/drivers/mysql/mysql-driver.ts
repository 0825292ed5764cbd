import { TargetRejectedError } from '../../errors.js';
import {
  ConnectionLostError,
  DriverQueryError,
  type Driver,
  type DriverCapabilities,
  type HistoryChange,
  type HistoryRow,
  type HistoryStatus,
  type HistorySummary,
  type HistoryTable,
  type HistoryWrite,
  type InspectedTable,
  type LeaseClaim,
  type LeaseHolder,
  type LeaseTake,
  type LockGuard,
  type LockHolder,
  type MigrationSessionOptions,
  type NewHistoryRow,
  type ServerErrorInfo,
  type ServerInfo,
  type SessionActivity,
} from '../driver.js';
import { quoteIdent, quoteLiteral } from './dialect.js';
import { isSessionGone, mysqlErrorFamily, mysqlServerError } from './error-family.js';
import type { MysqlResult, MysqlSession } from './mysql-session.js';

export interface MysqlDriverOptions {
  /** As the registry states them (drivers/registry.ts). */
  readonly capabilities: DriverCapabilities;
  /** Opens the session; throws classified errors (see driver.ts). */
  readonly open: () => Promise<MysqlSession>;
}


/**
 * A runner that is frozen (SIGSTOP, a paused VM) or cut off leaves its session idle: the server
 * ends it, and frees the lock, after this many seconds. berth itself never idles that long on its
 * session (a lock waiter polls at least every second). A killed runner's socket closes at once.
 */
const IDLE_SESSION_TIMEOUT_S = 60;

/**
 * Session variables a migration may change and the next one must not inherit (SPEC §4.2): each
 * migration starts with them as they were after connecting. There is no RESET ALL: resetting the
 * connection (COM_RESET_CONNECTION) would release the GET_LOCK lock.
 */
const SESSION_STATE = [
  'sql_mode', 'time_zone', 'foreign_key_checks', 'unique_checks', 'sql_safe_updates', 'autocommit',
  'character_set_client', 'character_set_results', 'collation_connection', 'innodb_strict_mode', 'sql_auto_is_null',
  'auto_increment_increment', 'auto_increment_offset', 'group_concat_max_len', 'div_precision_increment',
  'lock_wait_timeout', 'innodb_lock_wait_timeout', 'wait_timeout', 'interactive_timeout',
] as const;

type Flavor = 'mysql' | 'mariadb';

/** The statement timeout, whose variable and unit differ: MariaDB's covers every statement, MySQL's only SELECT. */
function statementTimeoutSetting(flavor: Flavor, ms: number): [name: string, value: string] {
  return flavor === 'mariadb'
    ? ['max_statement_time', String(Math.max(0, ms) / 1000)]
    : ['max_execution_time', String(Math.max(0, Math.round(ms)))];
}

/** `-- berth:lock-timeout`: metadata locks (what DDL waits for) and row locks, both in whole seconds; 0 = none. */
function lockTimeoutSettings(ms: number): [string, string][] {
  const seconds = (max: number) => String(ms <= 0 ? max : Math.min(max, Math.max(1, Math.ceil(ms / 1000))));
  return [['lock_wait_timeout', seconds(31_536_000)], ['innodb_lock_wait_timeout', seconds(1_073_741_824)]];
}

export class MysqlDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  readonly #options: MysqlDriverOptions;
  #session: MysqlSession | undefined;
  #lost = false;
  /** Calls in flight, since when, and when the last one ended (for `activity`). */
  #busy = 0;
  #busySince: number | null = null;
  #lastActivity: number | null = null;
  #flavor: Flavor = 'mysql';
  /** The variables of SESSION_STATE (and the statement timeout) as they were after connecting. */
  #state = new Map<string, unknown>();
  #database: string | null = null;
  /** The file's statements left a transaction open (START TRANSACTION without COMMIT yet). */
  #inTransaction = false;
  /** The added columns of a table that lacks some and could not get them (ensureHistoryTable); absent: all of them. */
  readonly #added = new Map<string, readonly string[]>();
  /** A statement count not written yet (see updateHistory). */
  #progress: { table: HistoryTable; version: number; change: HistoryChange; lockKey: LockGuard | null } | undefined;

  constructor(options: MysqlDriverOptions) {
    this.capabilities = options.capabilities;
    this.#options = options;
  }

  async connect(): Promise<ServerInfo> {
    this.#session = await this.#options.open();
    const [row] = await this.#rows<{ pid: string; usr: string; db: string | null; v: string; ro: string }>(
      'SELECT CONNECTION_ID() AS pid, CURRENT_USER() AS usr, DATABASE() AS db, VERSION() AS v, @@global.read_only AS ro');
    if (!row) throw new ConnectionLostError('the server returned no session information');
    this.#flavor = /mariadb/i.test(row.v) ? 'mariadb' : 'mysql';
    // None for berth's own statements: a migration's timeout is SET with the migration (beginMigration).
    const [timeoutName, timeoutValue] = statementTimeoutSetting(this.#flavor, 0);
    await this.#run(() => this.#s.query(
      `SET SESSION wait_timeout = ${IDLE_SESSION_TIMEOUT_S}, interactive_timeout = ${IDLE_SESSION_TIMEOUT_S}, ${timeoutName} = ${timeoutValue}`));
    // MariaDB has no super_read_only and spells the session's read-only flag tx_read_only.
    const readOnlyFlags = this.#flavor === 'mariadb' ? '@@session.tx_read_only AS tro' : '@@global.super_read_only AS sro, @@session.transaction_read_only AS tro';
    const [state] = await this.#rows<Record<string, unknown>>(
      `SELECT ${readOnlyFlags}, ${[...SESSION_STATE, timeoutName].map((name) => `@@SESSION.${name} AS ${name}`).join(', ')}`);
    for (const name of [...SESSION_STATE, timeoutName]) this.#state.set(name, state?.[name]);
    this.#database = row.db;
    const readOnly = [row.ro, state?.sro, state?.tro].some((flag) => Number(flag) === 1) || await this.#isReplica();
    return {
      pid: Number(row.pid),
      user: row.usr,
      database: row.db ?? '',
      serverVersion: `${this.#flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${row.v}`,
      serverVersionNum: versionNumber(row.v),
      readOnly,
      currentSchema: row.db,
      // A MySQL proxy keeps the session (and GET_LOCK) to one server connection: nothing to check.
      pooled: false,
      unsetSettings: [],
    };
  }

  /** A running replica: writes there would diverge from its primary. Unknown (no privilege) counts as no. */
  async #isReplica(): Promise<boolean> {
    const statement = this.#flavor === 'mysql' ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS';
    try {
      const rows = await this.#rows<Record<string, unknown>>(statement);
      return rows.some((r) => [r.Slave_IO_Running, r.Slave_SQL_Running, r.Replica_IO_Running, r.Replica_SQL_Running].includes('Yes'));
    } catch (err) {
      if (err instanceof DriverQueryError) return false;
      throw err;
    }
  }

  async tryLock(key: bigint): Promise<boolean> {
    // GET_LOCK by a session that already holds the lock would count it twice (and need two
    // RELEASE_LOCKs): ask only when not held. Timeout 0: never blocks on the server (SPEC §4.1).
    const [row] = await this.#rows<{ ok: unknown }>('SELECT IF(IS_USED_LOCK(?) = CONNECTION_ID(), 1, GET_LOCK(?, 0)) AS ok', [lockName(key), lockName(key)]);
    return Number(row?.ok) === 1;
  }

  async lockHolder(key: bigint): Promise<LockHolder | null> {
    const [row] = await this.#rows<{ pid: unknown }>('SELECT IS_USED_LOCK(?) AS pid', [lockName(key)]);
    if (row?.pid == null) return null;
    const pid = Number(row.pid);
    // The process list shows other users' sessions only with the PROCESS privilege.
    const [seen] = await this.#rows<{ usr: string | null; host: string | null }>(
      'SELECT USER AS usr, HOST AS host FROM information_schema.PROCESSLIST WHERE ID = ?', [pid]).catch(() => []);
    return { pid, user: seen?.usr ?? null, applicationName: await this.#programName(pid), clientAddr: seen?.host ?? null, heldForMs: null };
  }

  /** The holder's program_name connection attribute, where performance_schema is on and readable. */
  async #programName(pid: number): Promise<string | null> {
    const [row] = await this.#rows<{ name: string | null }>(
      `SELECT ATTR_VALUE AS name FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = ? AND ATTR_NAME = 'program_name'`, [pid])
      .catch(() => []);
    return row?.name ?? null;
  }

  async unlock(key: bigint): Promise<void> {
    await this.#run(() => this.#s.query('SELECT RELEASE_LOCK(?)', [lockName(key)]));
  }

  async takeLease(table: HistoryTable, claim: LeaseClaim, ttlMs: number): Promise<LeaseTake> {
    let prev = await this.readLease(table);
    if (!prev) {
      // CREATE TABLE IF NOT EXISTS waits on the table's metadata lock: two runners creating it at
      // once both succeed. The row is inserted once (INSERT IGNORE), free since the epoch.
      await this.#run(() => this.#s.query(`CREATE TABLE IF NOT EXISTS ${qualified(table)} (
        id TINYINT NOT NULL PRIMARY KEY,
        token BIGINT NOT NULL UNIQUE,
        holder_pod VARCHAR(255) NULL,
        holder_host VARCHAR(255) NULL,
        holder_pid INT NULL,
        berth_version VARCHAR(64) NULL,
        since TIMESTAMP(3) NULL DEFAULT NULL,
        heartbeat_at TIMESTAMP(3) NULL DEFAULT NULL,
        expires_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        released BOOLEAN NOT NULL
      )`));
      await this.#run(() => this.#s.query(`INSERT IGNORE INTO ${qualified(table)} (id, token, expires_at, released) VALUES (1, 0, FROM_UNIXTIME(1), TRUE)`));
      prev = await this.readLease(table);
      if (!prev) throw new ConnectionLostError(`the lease table ${table.schema}.${table.table} has no row`);
    }
    // Concurrent takers queue on the row; each re-reads it (a locking read) before its WHERE.
    const { affectedRows } = await this.#run(() => this.#s.query(
      `UPDATE ${qualified(table)} SET token = token + 1, holder_pod = ?, holder_host = ?, holder_pid = ?, berth_version = ?,
          since = NOW(3), heartbeat_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND, released = FALSE
        WHERE id = 1 AND expires_at <= NOW(3)`,
      [claim.pod, claim.host, claim.pid, claim.berthVersion, Math.round(ttlMs) * 1000]));
    if (affectedRows !== 1) return { token: null, holder: prev };
    // Ours for the next ttlMs: nobody else can have moved the token since.
    const now = await this.readLease(table);
    return { token: BigInt(now!.token), previous: prev.since === null ? null : prev };
  }

  async renewLease(table: HistoryTable, token: bigint, ttlMs: number): Promise<boolean> {
    const { affectedRows } = await this.#run(() => this.#s.query(
      `UPDATE ${qualified(table)} SET heartbeat_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND
        WHERE id = 1 AND token = ? AND NOT released AND expires_at > NOW(3)`, [Math.round(ttlMs) * 1000, token.toString()]));
    return affectedRows === 1;
  }

  async releaseLease(table: HistoryTable, token: bigint): Promise<void> {
    await this.#run(() => this.#s.query(
      `UPDATE ${qualified(table)} SET released = TRUE, expires_at = NOW(3) WHERE id = 1 AND token = ? AND NOT released`, [token.toString()]));
  }

  async readLease(table: HistoryTable): Promise<LeaseHolder | null> {
    const [exists] = await this.#rows('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [table.schema, table.table]);
    if (!exists) return null;
    const [row] = await this.#rows<{
      token: string; holder_pod: string | null; holder_host: string | null; holder_pid: number | null; berth_version: string | null;
      since_ms: string | null; age_ms: string | null; released: unknown; expired: unknown;
    }>(`SELECT CAST(token AS CHAR) AS token, holder_pod, holder_host, holder_pid, berth_version, UNIX_TIMESTAMP(since) * 1000 AS since_ms,
          TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) DIV 1000 AS age_ms, released, expires_at <= NOW(3) AS expired
        FROM ${qualified(table)} WHERE id = 1`);
    if (!row) return null;
    return {
      token: String(row.token), pod: row.holder_pod, host: row.holder_host, pid: row.holder_pid === null ? null : Number(row.holder_pid),
      berthVersion: row.berth_version, since: row.since_ms === null ? null : new Date(Number(row.since_ms)).toISOString(),
      heartbeatAgeMs: row.age_ms === null ? null : Number(row.age_ms), released: Number(row.released) === 1, expired: Number(row.expired) === 1,
    };
  }

  async readHistory(table: HistoryTable): Promise<HistoryRow[] | null> {
    try {
      // `*` rather than a column list: a table an older berth created has no release or backup
      // column, and reading it must not need the ALTER that adds them (only SELECT).
      const rows = await this.#rows<{
        version: string; name: string; checksum: string; status: HistoryStatus; statements_applied: number | null;
        statements_total: number | null; applied_ms: string; duration_ms: number | null; applied_by: string | null;
        host: string | null; berth_version: string | null; release?: string | null; backup?: string | null;
      }>(`SELECT *, UNIX_TIMESTAMP(applied_at) * 1000 AS applied_ms FROM ${qualified(table)} ORDER BY version`);
      return rows.map((r) => ({
        version: Number(r.version),
        name: r.name,
        checksum: r.checksum,
        status: r.status,
        statementsApplied: r.statements_applied,
        statementsTotal: r.statements_total,
        appliedAt: new Date(Number(r.applied_ms)),
        durationMs: r.duration_ms,
        appliedBy: r.applied_by,
        host: r.host,
        berthVersion: r.berth_version,
        release: r.release ?? null,
        backup: r.backup ?? null,
      }));
    } catch (err) {
      if (isNoHistory(err)) return null;
      throw err;
    }
  }

  async historySummary(table: HistoryTable, expected?: readonly { readonly version: number; readonly checksum: string }[]): Promise<HistorySummary | null> {
    // Each row as one string, matched against the set of expected strings: versions are unique,
    // so the history is exactly `expected` when every row is in the set and there are as many
    // rows as strings. The server sorts the constants of IN once and looks each row up.
    const lines = (expected ?? []).map((m) => quoteLiteral(`${Math.trunc(m.version)} applied ${m.checksum}`));
    try {
      const [row] = await this.#rows<{ v: string | null; unsettled: unknown; n: string; matched: string | null }>(
        `SELECT MAX(CASE WHEN status = 'applied' THEN version END) AS v, COALESCE(MAX(status <> 'applied'), 0) AS unsettled,
            COUNT(*) AS n, SUM(CONCAT(version, ' ', status, ' ', checksum) IN (${lines.length ? lines.join(', ') : 'NULL'})) AS matched
           FROM ${qualified(table)}`);
      const matches = expected !== undefined && Number(row?.n) === expected.length && Number(row?.matched ?? 0) === expected.length;
      return { current: row?.v == null ? null : Number(row.v), unsettled: Number(row?.unsettled) === 1, matches };
    } catch (err) {
      if (isNoHistory(err)) return null;
      throw err;
    }
  }

  async inspectTables(tables: readonly HistoryTable[], options: { readonly rows: boolean }): Promise<InspectedTable[]> {
    const result: InspectedTable[] = [];
    for (const table of tables) {
      // One table per query, by equality: the server then opens only that table's definition.
      // A row-constructor IN over information_schema.COLUMNS reads every table of every database
      // (slow on a server with many, and it once crashed a MariaDB 10.11 under concurrent DDL).
      const columns = await this.#rows<{ col: string; type: string }>(
        `SELECT COLUMN_NAME AS col, COLUMN_TYPE AS type FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [table.schema, table.table]);
      const found = columns.map((c) => ({ name: c.col, type: postgresSpelling(c.type) }));
      if (found.length === 0) continue;
      if (!options.rows) {
        result.push({ schema: table.schema, table: table.table, columns: found });
        continue;
      }
      const select = found.map((c) => `${asText(quoteIdent(c.name), c.type)} AS ${quoteIdent(c.name)}`).join(', ');
      const rows = await this.#rows<Record<string, string | null>>(`SELECT ${select} FROM ${qualified(table)}`);
      result.push({ schema: table.schema, table: table.table, columns: found, rows });
    }
    return result;
  }

  async ensureHistoryTable(table: HistoryTable): Promise<'created' | 'upgraded' | 'current' | 'outdated'> {
    // The schema of a MySQL table is its database, which berth never creates.
    const [exists] = await this.#rows('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [table.schema]);
    if (!exists) {
      throw new TargetRejectedError('ERR_DB_NOT_FOUND',
        `database "${table.schema}" of the history table does not exist: create it first (berth never creates databases), or name another with --schema.`);
    }
    const columns = await this.#rows<{ col: string }>(
      'SELECT COLUMN_NAME AS col FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [table.schema, table.table]);
    if (columns.length === 0) {
      await this.#run(() => this.#s.query(createHistoryTableSql(table)));
      return 'created';
    }
    // A table an older berth created: the columns it lacks are added (an instant ALTER in InnoDB).
    const add = ADDED_COLUMNS.filter((c) => !columns.some((found) => found.col.toLowerCase() === c.name));
    this.#added.delete(qualified(table));
    if (add.length === 0) return 'current';
    try {
      await this.#run(() => this.#s.query(`ALTER TABLE ${qualified(table)} ${add.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${c.type}`).join(', ')}`));
    } catch (err) {
      // ALTER needs its own privilege: a role that may only write rows goes on without them.
      if (!(err instanceof DriverQueryError && err.family === 'privilege')) throw err;
      this.#added.set(qualified(table), ADDED_COLUMNS.map((c) => c.name).filter((name) => !add.some((c) => c.name === name)));
      return 'outdated';
    }
    return 'upgraded';
  }

  /**
   * Each write checks the lock in its own WHERE (IS_USED_LOCK), so a session that lost it changes
   * nothing and says so. A statement count the server refuses under the file's own LOCK TABLES is
   * held back for the next write (#updateHistory).
   */
  async writeHistory(table: HistoryTable, change: HistoryWrite, lockKey: LockGuard | null): Promise<boolean> {
    if ('insert' in change) return this.#insertHistory(table, change.insert, lockKey);
    if ('delete' in change) return this.#deleteHistory(table, change.delete, lockKey);
    return this.#updateHistory(table, change.update, change.set, lockKey);
  }

  async #updateHistory(table: HistoryTable, version: number, change: HistoryChange, lockKey: LockGuard | null): Promise<boolean> {
    const pending = this.#progress?.version === version ? this.#progress.change : {};
    const merged = { ...pending, ...change };
    this.#progress = undefined;
    if (merged.status === undefined && merged.checksum === undefined) {
      // A statement count, with the lock check. One the server refuses (under the file's own
      // LOCK TABLES only the locked tables can be written) is held back for the next write or
      // statement; the closing write, which ends those locks first, checks the lock then.
      try {
        const { affectedRows } = await this.#run(() => this.#s.query(updateHistorySql(table, lockKey), updateHistoryValues(version, merged)));
        return affectedRows === 1;
      } catch (err) {
        if (!(err instanceof DriverQueryError)) throw err;
        this.#progress = { table, version, change: merged, lockKey };
        return true;
      }
    }
    // A migration that failed inside its own START TRANSACTION: that transaction is rolled back,
    // as the end of the session would, so that its failure is not written into it and lost with it.
    if (merged.status === 'failed' && this.#inTransaction) {
      await this.#run(() => this.#s.query('ROLLBACK'));
      this.#inTransaction = false;
    }
    const { affectedRows } = await this.#historyWrite(() => this.#s.query(updateHistorySql(table, lockKey), updateHistoryValues(version, merged)));
    return affectedRows === 1;
  }

  /**
   * Writes a held-back statement count. One the server refuses (under the file's LOCK TABLES, or
   * for a reason of its own) stays held back for the next write: this runs before a statement of
   * the migration, whose failure it must not pose as, and the write that ends the migration
   * carries the count anyway and reports a failure as berth's own.
   */
  async #flushProgress(): Promise<void> {
    const progress = this.#progress;
    if (!progress) return;
    this.#progress = undefined;
    try {
      await this.#run(() => this.#s.query(updateHistorySql(progress.table, progress.lockKey), updateHistoryValues(progress.version, progress.change)));
    } catch (err) {
      if (!(err instanceof DriverQueryError)) throw err;
      this.#progress ??= progress;
    }
  }

  async #deleteHistory(table: HistoryTable, version: number, lockKey: LockGuard | null): Promise<boolean> {
    await this.#flushProgress();
    const { affectedRows } = await this.#historyWrite(() => this.#s.query(
      `DELETE FROM ${qualified(table)} WHERE version = ? AND ${lockKey === null ? 'TRUE' : lockHeldSql(lockKey)}`, [version]));
    return affectedRows === 1;
  }

  /**
   * A history write while the migration's own `LOCK TABLES` is in force (a mysqldump excerpt
   * locks the tables it fills) is refused by the server: only the locked tables can be used. The
   * write that ends the migration, once its statements are done, first ends the locks the file
   * left, as the end of its session would. GET_LOCK locks are not table locks and stay.
   */
  async #historyWrite(write: () => Promise<MysqlResult>): Promise<MysqlResult> {
    try {
      return await this.#run(write);
    } catch (err) {
      if (!isTablesLocked(err)) throw err;
      await this.#run(() => this.#s.query('UNLOCK TABLES'));
      return this.#run(write);
    }
  }

  async #insertHistory(table: HistoryTable, row: NewHistoryRow, lockKey: LockGuard | null): Promise<boolean> {
    await this.#flushProgress();
    const added = this.#added.get(qualified(table)) ?? ADDED_COLUMNS.map((c) => c.name);
    const values = { release: row.release ?? null, backup: row.backup ?? null } as Record<string, string | null>;
    const { affectedRows } = await this.#run(() => this.#s.query(
      `INSERT INTO ${qualified(table)}
         (version, name, checksum, status, statements_applied, statements_total, duration_ms, applied_by, host, berth_version${added.map((c) => `, ${quoteIdent(c)}`).join('')})
       SELECT ?, ?, ?, ?, ?, ?, ?, CURRENT_USER(), ?, ?${', ?'.repeat(added.length)} FROM DUAL WHERE ${lockKey === null ? 'TRUE' : lockHeldSql(lockKey)}`,
      [row.version, row.name, row.checksum, row.status, Math.trunc(row.statementsApplied), Math.trunc(row.statementsTotal),
        Math.round(row.durationMs), row.host, row.berthVersion, ...added.map((c) => values[c])]));
    return affectedRows === 1;
  }

  async beginMigration(options: MigrationSessionOptions, lockKey: LockGuard | null): Promise<{ pid: number; lockHeld: boolean }> {
    const wanted = this.#sessionValues(options);
    // One round trip in the usual case: the check that nothing changed the session rides along
    // with the session and lock checks, and the SET follows only when something did.
    const [row] = await this.#rows<{ pid: string; held: unknown; db: string | null; same: unknown }>(
      `SELECT CONNECTION_ID() AS pid, ${lockKey === null ? 'TRUE' : lockHeldSql(lockKey)} AS held, DATABASE() AS db,
         (${[...wanted].map(([name, value]) => `@@SESSION.${name} <=> ${value}`).join(' AND ')}) AS same`);
    if (Number(row?.same) !== 1) {
      await this.#run(() => this.#s.query(`SET SESSION ${[...wanted].map(([name, value]) => `${name} = ${value}`).join(', ')}`));
    }
    // A `USE other` in the previous file would send this one's unqualified names elsewhere.
    if (this.#database !== null && row?.db !== this.#database) await this.#run(() => this.#s.query(`USE ${quoteIdent(this.#database!)}`));
    if (options.transaction) await this.#run(() => this.#s.query('START TRANSACTION'));
    return { pid: Number(row?.pid), lockHeld: Number(row?.held) === 1 };
  }

  /** Every variable of SESSION_STATE as it was after connecting, with the file's timeouts applied, as literals. */
  #sessionValues(options: MigrationSessionOptions): Map<string, string> {
    const values = new Map([...this.#state].map(([name, value]) => [name, literal(value)]));
    if (options.lockTimeoutMs !== undefined) for (const [name, value] of lockTimeoutSettings(options.lockTimeoutMs)) values.set(name, value);
    if (options.statementTimeoutMs !== undefined) {
      const [name, value] = statementTimeoutSetting(this.#flavor, options.statementTimeoutMs);
      values.set(name, value);
    }
    return values;
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number }> {
    // ctx.sql writes $1, $2 as in PostgreSQL; the server takes ? placeholders.
    const [text, values] = params?.length ? numberedToPositional(sql, params) : [sql, undefined];
    await this.#flushProgress();
    const result = await this.#run(() => this.#s.query(text, values), text);
    if (params === undefined && result.inTransaction !== undefined) this.#inTransaction = result.inTransaction;
    return { rows: result.rows, rowCount: result.rows.length || result.affectedRows };
  }

  async commit(): Promise<void> {
    await this.#run(() => this.#s.query('COMMIT'));
  }

  async rollback(): Promise<void> {
    if (this.#lost || !this.#session) return;
    await this.#run(() => this.#s.query('ROLLBACK'));
  }

  async cancel(): Promise<void> {
    await this.#session?.cancel();
  }

  activity(): SessionActivity {
    return { lost: this.#lost, busySince: this.#busySince, lastRoundTripAt: this.#lastActivity };
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.end().catch(() => undefined);
  }

  get #s(): MysqlSession {
    if (!this.#session || this.#lost) throw new ConnectionLostError('the database session is closed');
    return this.#session;
  }

  async #rows<R>(sql: string, values?: readonly unknown[]): Promise<R[]> {
    return (await this.#run(() => this.#s.query(sql, values))).rows as R[];
  }

  /** Normalises client errors into DriverQueryError / ConnectionLostError; `sql` places a syntax error. */
  async #run<T extends MysqlResult>(fn: () => Promise<T>, sql?: string): Promise<T> {
    if (this.#busy++ === 0) this.#busySince = Date.now();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ConnectionLostError || err instanceof DriverQueryError) throw err;
      const server = mysqlServerError(err);
      if (server) throw new DriverQueryError(serverErrorInfo(server, this.#flavor, sql), mysqlErrorFamily(server.errno), { cause: err });
      if (!isSessionGone(err) && !(err as { fatal?: unknown })?.fatal) throw err;
      this.#lost = true;
      throw new ConnectionLostError(err instanceof Error ? err.message : String(err), { cause: err });
    } finally {
      if (--this.#busy === 0) this.#busySince = null;
      this.#lastActivity = Date.now();
    }
  }
}

function serverErrorInfo(server: { errno: number; sqlState: string | undefined; message: string }, flavor: Flavor, sql: string | undefined): ServerErrorInfo {
  const position = sql === undefined ? undefined : syntaxErrorPosition(sql, server.message);
  return {
    // The error number is what MySQL's documentation and users search by; core adds the SQLSTATE.
    message: `${server.message} (${flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} error ${server.errno})`,
    ...(server.sqlState ? { sqlState: server.sqlState } : {}),
    ...(position === undefined ? {} : { position }),
  };
}

/**
 * Where a syntax error is, as a 1-based character position in `sql`: the server says
 * `... near '<the rest of the statement, cut at 80 characters>' at line <n>`, the line counted
 * within the statement sent. Undefined when the message does not say.
 */
export function syntaxErrorPosition(sql: string, message: string): number | undefined {
  const match = /near '([\s\S]*)' at line (\d+)\s*$/.exec(message);
  if (!match) return undefined;
  const near = match[1]!;
  let lineStart = 0;
  for (let line = 1; line < Number(match[2]); line++) {
    const next = sql.indexOf('\n', lineStart);
    if (next < 0) break;
    lineStart = next + 1;
  }
  let at = near === '' ? sql.trimEnd().length : sql.indexOf(near, lineStart);
  // The quoted text may end in a cut character; its start still places the error.
  if (at < 0) at = sql.indexOf(near.slice(0, 16), lineStart);
  if (at < 0) return undefined;
  return [...sql.slice(0, at)].length + 1;
}

/**
 * `ctx.sql` builds `$1, $2 ...` placeholders (PostgreSQL's); mysql2 fills `?` in order. Numbered
 * placeholders outside quotes are rewritten, with the values reordered to match.
 */
export function numberedToPositional(sql: string, params: readonly unknown[]): [string, unknown[]] {
  const values: unknown[] = [];
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote) {
      if (ch === '\\') {
        out += ch + (sql[i + 1] ?? '');
        i++;
        continue;
      }
      if (ch === quote) quote = undefined;
      out += ch;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    const number = ch === '$' ? /^\$(\d+)/.exec(sql.slice(i))?.[1] : undefined;
    if (number !== undefined && Number(number) >= 1 && Number(number) <= params.length) {
      values.push(params[Number(number) - 1]);
      out += '?';
      i += number.length;
      continue;
    }
    out += ch;
  }
  return values.length ? [out, values] : [sql, [...params]];
}

/** `10.11.19-MariaDB-0+deb12u1` → 101119; `8.0.36` → 80036. */
function versionNumber(version: string): number {
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  return major * 10_000 + minor * 100 + patch;
}

/**
 * GET_LOCK names are server-wide and at most 64 characters: the key is already a hash of
 * database + schema + table (core/lock.ts), so two databases on one server never share a lock.
 */
export function lockName(key: bigint): string {
  return `berth:${BigInt.asUintN(64, key).toString(16).padStart(16, '0')}`;
}

/** mysql2 asks for CLIENT_FOUND_ROWS: an UPDATE's affectedRows counts the rows matched, changed or not. */
function updateHistorySql(table: HistoryTable, lockKey: LockGuard | null): string {
  return `UPDATE ${qualified(table)} SET status = COALESCE(?, status), statements_applied = COALESCE(?, statements_applied),
    duration_ms = COALESCE(?, duration_ms), checksum = COALESCE(?, checksum) WHERE version = ? AND ${lockKey === null ? 'TRUE' : lockHeldSql(lockKey)}`;
}

function updateHistoryValues(version: number, change: HistoryChange): unknown[] {
  return [change.status ?? null, change.statementsApplied ?? null,
    change.durationMs === undefined ? null : Math.round(change.durationMs), change.checksum ?? null, version];
}

function lockHeldSql(guard: LockGuard): string {
  // DDL commits on its own in MySQL: the lease is checked in every history write instead, which
  // is what every migration passes through (started, each statement, applied).
  if ('lease' in guard) {
    return `EXISTS (SELECT 1 FROM ${qualified(guard.lease)} WHERE id = 1 AND token = ${BigInt.asIntN(64, guard.token).toString()}
      AND NOT released AND expires_at > NOW(3))`;
  }
  return `COALESCE(IS_USED_LOCK(${quoteLiteral(lockName(guard.key))}) = CONNECTION_ID(), FALSE)`;
}

/** Columns a history table created by an older berth may lack (RELEASE is a reserved word: always quoted). */
const ADDED_COLUMNS = [{ name: 'release', type: 'VARCHAR(255) NULL' }, { name: 'backup', type: 'VARCHAR(1024) NULL' }] as const;

/** The history table in MySQL's types (SPEC §3); TIMESTAMP(3) is stored in UTC and read as epoch ms. */
function createHistoryTableSql(table: HistoryTable): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(table)} (
    version BIGINT NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL CHECK (status IN ('applied', 'started', 'failed')),
    statements_applied INT NULL,
    statements_total INT NULL,
    applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    duration_ms INT NULL,
    applied_by VARCHAR(288) NULL,
    host VARCHAR(255) NULL,
    berth_version VARCHAR(64) NULL,
    ${ADDED_COLUMNS.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(',\n    ')}
  ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`;
}

/**
 * Column types in the names PostgreSQL gives them, the names the contract speaks (driver.ts
 * `InspectedTable`), so core recognises golang-migrate's and dbmate's MySQL tables by the same
 * shapes: `bigint(20)` → `bigint`, `tinyint(1)` (BOOLEAN) → `boolean`, `varchar(128)` →
 * `character varying(128)`. Anything else is left as MySQL spells it.
 */
export function postgresSpelling(type: string): string {
  const t = type.toLowerCase().replace(/\s+unsigned$/, '');
  if (t === 'tinyint(1)' || t === 'boolean' || t === 'bool') return 'boolean';
  const base = /^(\w+)(\((\d+)\))?/.exec(t);
  switch (base?.[1]) {
    case 'bigint': return 'bigint';
    case 'int': case 'integer': case 'mediumint': return 'integer';
    case 'smallint': case 'tinyint': return 'smallint';
    case 'varchar': return `character varying${base[2] ?? ''}`;
    case 'char': return `character${base[2] ?? ''}`;
    case 'text': case 'mediumtext': case 'longtext': case 'tinytext': return 'text';
    case 'datetime': case 'timestamp': return 'timestamp without time zone';
    default: return t;
  }
}

/** A column's value as text, as PostgreSQL's `::text` would render it (a boolean as true/false). */
function asText(column: string, type: string): string {
  return type === 'boolean' ? `CASE WHEN ${column} IS NULL THEN NULL WHEN ${column} THEN 'true' ELSE 'false' END` : `CAST(${column} AS CHAR)`;
}

/** A value read from @@SESSION, written back as a literal. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  // BIGINT variables arrive as text (bigNumberStrings); a boolean one refuses a quoted '1'.
  return /^-?\d+(\.\d+)?$/.test(String(value)) ? String(value) : quoteLiteral(String(value));
}

/** Escapes what MySQL's default sql_mode treats specially in a string: backslash and quote. */

function qualified(table: HistoryTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}

/** 1100 ER_TABLE_NOT_LOCKED: the session holds LOCK TABLES, and the history table is not among them. */
function isTablesLocked(err: unknown): boolean {
  return err instanceof DriverQueryError && (err.cause as { errno?: unknown } | undefined)?.errno === 1100;
}

/** 1146 ER_NO_SUCH_TABLE, 1049 ER_BAD_DB_ERROR: nothing was ever applied here. */
function isNoHistory(err: unknown): boolean {
  if (!(err instanceof DriverQueryError)) return false;
  const errno = (err.cause as { errno?: unknown } | undefined)?.errno;
  return errno === 1146 || errno === 1049;
}

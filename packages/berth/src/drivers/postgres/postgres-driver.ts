import { randomBytes } from 'node:crypto';
import { TargetRejectedError } from '../../errors.js';
import {
  ConnectionLostError,
  DriverQueryError,
  type Driver,
  type DriverCapabilities,
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
  type ScriptOutcome,
  type ServerInfo,
  type SessionActivity,
  type TransactionalScript,
  type UnsetSetting,
} from '../driver.js';
import { codePointLength } from '../../text.js';
import { postgresErrorFamily } from './error-family.js';
import { serverErrorInfo, type SqlSession } from './sql-session.js';

export interface PostgresDialectOptions {
  readonly capabilities: DriverCapabilities;
  /**
   * Opens the session, asking for `settings` in the start-up packet where the client can;
   * throws classified errors (see driver.ts).
   */
  readonly open: (settings: Readonly<Record<string, string>>) => Promise<SqlSession>;
  /**
   * Server-side limits that make a dead, frozen or partitioned runner lose its session (and the
   * lock with it) within seconds (SPEC §4.5). Off for an in-process database.
   */
  readonly sessionLimits: boolean;
  /** The session can say which statement of a message failed (`SqlSession.script`): `runScript` is offered. */
  readonly scripts: boolean;
  /** The session's search_path (`DriverOptions.searchPath`): a start-up setting, so RESET ALL keeps it. */
  readonly searchPath?: string;
}

/** idle_in_transaction_session_timeout of SESSION_LIMITS, also SET LOCAL in a lease's migrations. */
const IDLE_IN_TRANSACTION_MS = 30_000;

/**
 * Session-level limits (SPEC §4.5), by minimum server version, in each setting's base unit (as
 * `pg_settings.setting` shows it): sent at start-up where the client can, checked once connected,
 * and SET (then re-applied after every RESET ALL) where they did not take effect.
 */
const SESSION_LIMITS: ReadonlyArray<{ readonly min: number; readonly name: string; readonly value: string; readonly tcp?: true }> = [
  // A killed client's half-open socket is noticed while a long statement runs.
  { min: 140000, name: 'client_connection_check_interval', value: '1000' },
  // A frozen client (SIGSTOP, paused VM) stops its heartbeat (below), and the server ends its
  // session, idle or idle in a transaction, this long after the last message: the lock goes with it.
  { min: 140000, name: 'idle_session_timeout', value: '30000' },
  { min: 90600, name: 'idle_in_transaction_session_timeout', value: String(IDLE_IN_TRANSACTION_MS) },
  // A network partition is detected by the server within ~25 s instead of the OS's 2 hours. They
  // do not apply to (and read 0 on) a Unix socket.
  { min: 90000, name: 'tcp_keepalives_idle', value: '10', tcp: true },
  { min: 90000, name: 'tcp_keepalives_interval', value: '5', tcp: true },
  { min: 90000, name: 'tcp_keepalives_count', value: '3', tcp: true },
];

/**
 * While berth has nothing to ask the server (a code migration doing client-side work, a lint of
 * the files), it sends an empty query after this much silence, so only a client that cannot run
 * at all (frozen, stopped) lets the idle timeouts above end its session. Checked every second:
 * the server hears from a live client at least every ~6 s, 24 s before it would give up on it.
 */
const HEARTBEAT_AFTER_MS = 5_000;
const HEARTBEAT_CHECK_MS = 1_000;

/**
 * Behind a pooler, how long the session check waits for a second session to get a server, and
 * then for its notification to reach this one (it takes milliseconds where the pool keeps the
 * session).
 */
const SECOND_SESSION_TIMEOUT_MS = 2_000;
const NOTIFY_WAIT_MS = 2_000;

/**
 * SQLSTATEs meaning the session is gone rather than that a statement failed: shutdowns, connection
 * failures, and the server ending an idle session (25P03 idle in transaction, 57P05 idle). A FATAL
 * error of any other SQLSTATE ends the session too.
 */
const CONNECTION_GONE = new Set(['57P01', '57P02', '57P03', '57P05', '25P03', '08000', '08003', '08006', '08001', '08004']);

/**
 * The PostgreSQL dialect, over any `SqlSession`. Used by the `pg` driver (real servers) and the
 * PGlite driver (embedded).
 */
export class PostgresDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  readonly #options: PostgresDialectOptions;
  #session: SqlSession | undefined;
  /** What claimSession needs, from connect; its outcome, once it ran. */
  #claim: {
    readonly pid: number; readonly pooled: boolean; readonly settings: readonly { name: string; value: string }[];
    readonly current: Readonly<Record<string, string>>; result?: Promise<readonly UnsetSetting[]>;
  } | undefined;
  /** Statements that re-apply the session settings after RESET ALL (none when start-up took them). */
  #sessionSetup: string[] = [];
  #lost = false;
  /** Calls in flight, and when the last one ended: the heartbeat speaks only into silence. */
  #busy = 0;
  #busySince: number | null = null;
  #lastActivity = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #heartbeatSent: number | null = null;
  /** ADDED_COLUMNS each history table has, by qualified name (see #addedColumns). */
  readonly #columns = new Map<string, readonly string[]>();

  /** Set where the session can run scripts (see `PostgresDialectOptions.scripts`). */
  readonly runScript?: (script: TransactionalScript) => Promise<ScriptOutcome>;

  constructor(options: PostgresDialectOptions) {
    this.capabilities = options.capabilities;
    this.#options = options;
    if (options.scripts) this.runScript = (script) => this.#runScript(script);
  }

  async connect(): Promise<ServerInfo> {
    // Settings sent at start-up become the session's reset values, so the RESET ALL before each
    // migration keeps them and nothing needs re-applying per migration.
    const wanted = [
      ...(this.#options.sessionLimits ? SESSION_LIMITS : []),
      // None for berth's own statements, whatever the database's default: a migration's timeout
      // (--statement-timeout, the file's directive) is SET with the migration (beginMigration).
      { min: 0, name: 'statement_timeout', value: '0' },
      ...(this.#options.searchPath ? [{ min: 0, name: 'search_path', value: this.#options.searchPath }] : []),
    ];
    this.#session = await this.#options.open(Object.fromEntries(wanted.map((w) => [w.name, w.value])));
    const session = this.#session;
    const [row] = await this.#run(() => session.query<{
      pid: number; usr: string; db: string; v: string; vnum: string; recovery: boolean; ro: string; schema: string | null;
      local: boolean; settings: Record<string, string> | null;
    }>(`SELECT pg_backend_pid() AS pid, current_user AS usr, current_database() AS db,
        current_setting('server_version') AS v, current_setting('server_version_num') AS vnum,
        pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS ro,
        current_schema() AS schema, inet_server_addr() IS NULL AS local,
        (SELECT json_object_agg(name, setting) FROM pg_settings WHERE name = ANY($1::text[])) AS settings`,
    [wanted.map((w) => w.name)])).then((r) => r.rows);
    if (!row) throw new ConnectionLostError('the server returned no session information');
    const pid = Number(row.pid);
    const serverVersionNum = Number(row.vnum);
    // A pooler announces a process id of its own making. It may hand each transaction to whichever
    // server session is free (transaction mode): a lock would then be taken on one and the
    // migrations run on another, or two runners share one. Behind one, nothing is SET until
    // claimSession has checked that the session is berth's own: it would leak into other
    // clients' transactions. Reading needs no session of its own, nor the check's second connection.
    const pooled = session.announcedPid !== null && session.announcedPid !== pid;
    const settings = wanted.filter((w) => serverVersionNum >= w.min && !(w.tcp && row.local));
    this.#claim = { pid, pooled, settings, current: row.settings ?? {} };
    const unsetSettings = pooled ? [] : await this.claimSession();
    return {
      pid,
      user: row.usr,
      database: row.db,
      serverVersion: row.v,
      serverVersionNum,
      readOnly: row.recovery || row.ro === 'on',
      currentSchema: row.schema,
      pooled,
      unsetSettings,
    };
  }

  async connectionHeadroom(): Promise<number | undefined> {
    // Background workers have slots of their own: only client backends count against max_connections.
    const { rows } = await this.#run(() => this.#s.query<{ free: number }>(`SELECT current_setting('max_connections')::int
        - current_setting('superuser_reserved_connections')::int
        - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS free`));
    const free = Number(rows[0]?.free);
    return Number.isFinite(free) ? Math.max(0, free) : undefined;
  }

  async claimSession(): Promise<readonly UnsetSetting[]> {
    const claim = this.#claim;
    if (!claim) throw new ConnectionLostError('the database session is closed');
    claim.result ??= (async () => {
      if (claim.pooled) {
        const refused = await this.#poolDoesNotKeepSession(claim.pid);
        if (refused) throw poolerError(refused);
      }
      const unset = await this.#applySettings(claim.settings, claim.current);
      if (this.#options.sessionLimits) this.#startHeartbeat();
      return unset;
    })();
    return claim.result;
  }

  /**
   * SETs each wanted setting the start-up packet did not put in force (a server older than 14, a
   * pooler that drops or refuses `options`); those are then re-applied after every RESET ALL.
   * Returns the ones the server refused, with its reason.
   */
  async #applySettings(wanted: readonly { name: string; value: string }[], current: Readonly<Record<string, string>>): Promise<UnsetSetting[]> {
    const unset: UnsetSetting[] = [];
    for (const { name, value } of wanted) {
      if (current[name] === value) continue;
      const sql = `SET ${name} = ${value}`;
      try {
        await this.#run(() => this.#s.simple(sql));
        this.#sessionSetup.push(sql);
      } catch (err) {
        if (!(err instanceof DriverQueryError)) throw err;
        unset.push({ name, wanted: value, actual: current[name] ?? null, reason: err.message });
      }
    }
    return unset;
  }

  /**
   * Whether the pool keeps this server session for berth between transactions, whichever way it
   * hands out sessions and however many clients share it: this session LISTENs, a second one
   * NOTIFYs, and the notification must reach this session while it is idle. Where the pool keeps
   * the session (session mode) the server delivers it at once; in transaction mode an idle client
   * has no server session, so nothing can reach it. Comparing backend pids alone would not do: a
   * pool of one, or one that hands out its most recently used session first, gives every
   * statement of a lone client the same one.
   */
  async #poolDoesNotKeepSession(pid: number): Promise<string | undefined> {
    const session = this.#s;
    if (!session.onNotification || !session.notifyFromSecondSession) {
      return 'it announced a process id that is not its server session\'s, and this client cannot check whether it keeps the session';
    }
    const channel = `berth_session_${randomBytes(8).toString('hex')}`;
    let arrived = (): void => undefined;
    const notified = new Promise<boolean>((resolve) => {
      arrived = () => resolve(true);
    });
    const stop = session.onNotification((c) => {
      if (c === channel) arrived();
    });
    let timer: NodeJS.Timeout | undefined;
    let listening = true;
    try {
      const [again] = await this.#run(() => session.simple<{ pid: number }>(`LISTEN ${quoteIdent(channel)}; SELECT pg_backend_pid() AS pid`));
      if (Number(again?.pid) !== pid) return `two statements ran on two server sessions (backend ${pid}, then ${again?.pid})`;
      const other = await session.notifyFromSecondSession(channel, SECOND_SESSION_TIMEOUT_MS);
      if (other === pid) return `a second connection was handed this connection's server session (backend ${pid}) while it was idle`;
      const reached = await Promise.race([notified, new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), NOTIFY_WAIT_MS);
      })]);
      if (!reached) {
        return `a notification sent to this connection's server session (backend ${pid}) while it was idle did not reach it within ` +
          `${NOTIFY_WAIT_MS / 1000} s: between transactions the pool does not keep the session for berth`;
      }
      await this.#run(() => session.simple(`UNLISTEN ${quoteIdent(channel)}`));
      listening = false;
      return undefined;
    } finally {
      clearTimeout(timer);
      stop();
      // Behind a transaction pool this lands on whichever server session is free: best effort.
      if (listening && !this.#lost) await this.#run(() => session.simple(`UNLISTEN ${quoteIdent(channel)}`)).catch(() => undefined);
    }
  }

  /**
   * Sends an empty query whenever the session has been silent for HEARTBEAT_AFTER_MS. The timer
   * is unref'd: it never keeps the process alive, and stops with close().
   */
  #startHeartbeat(): void {
    this.#lastActivity = Date.now();
    this.#heartbeat = setInterval(() => {
      if (this.#busy > 0 || this.#lost || !this.#session || Date.now() - this.#lastActivity < HEARTBEAT_AFTER_MS) return;
      // An empty query is answered even inside a failed transaction, and changes nothing. A failure
      // means the session is gone: #run marks it lost and the next call reports it.
      const sent = Date.now();
      this.#heartbeatSent = sent;
      this.#run(() => this.#s.simple('')).catch(() => undefined).finally(() => {
        if (this.#heartbeatSent === sent) this.#heartbeatSent = null;
      });
    }, HEARTBEAT_CHECK_MS);
    this.#heartbeat.unref();
  }

  async tryLock(key: bigint): Promise<boolean> {
    const { rows } = await this.#run(() => this.#s.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.toString()]));
    return rows[0]?.ok === true;
  }

  async lockHolder(key: bigint): Promise<LockHolder | null> {
    const [classid, objid] = lockKeyParts(key);
    const { rows } = await this.#run(() => this.#s.query<{
      pid: number; usename: string | null; application_name: string | null; client_addr: string | null; held_ms: string | null;
    }>(`SELECT l.pid, a.usename, a.application_name, a.client_addr::text AS client_addr,
          (extract(epoch FROM now() - a.backend_start) * 1000)::bigint AS held_ms
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        LIMIT 1`, [classid, objid]));
    const r = rows[0];
    if (!r) return null;
    return {
      pid: Number(r.pid),
      user: r.usename,
      applicationName: r.application_name,
      clientAddr: r.client_addr,
      heldForMs: r.held_ms === null ? null : Number(r.held_ms),
    };
  }

  async unlock(key: bigint): Promise<void> {
    // The notification is delivered when this statement commits, after the lock is free.
    await this.#run(() => this.#s.query('SELECT pg_advisory_unlock($1::bigint), pg_notify($2, NULL)', [key.toString(), unlockChannel(key)]));
  }

  async watchUnlock(key: bigint, wake: () => void): Promise<(() => Promise<void>) | undefined> {
    const session = this.#s;
    if (!session.onNotification) return undefined;
    const channel = unlockChannel(key);
    const stop = session.onNotification((c) => {
      if (c === channel) wake();
    });
    try {
      await this.#run(() => session.simple(`LISTEN ${quoteIdent(channel)}`));
    } catch (err) {
      stop();
      throw err;
    }
    return async () => {
      stop();
      await this.#run(() => session.simple(`UNLISTEN ${quoteIdent(channel)}`));
    };
  }

  async takeLease(table: HistoryTable, claim: LeaseClaim, ttlMs: number): Promise<LeaseTake> {
    const attempt = async (): Promise<LeaseRow | undefined> => {
      // One statement, so no session state: the row as it was (for the takeover's log line) and
      // the take itself, which only an expired or released row allows. Concurrent takers queue on
      // the row; each re-checks the condition on the version the one before it wrote.
      const { rows } = await this.#run(() => this.#s.query<LeaseRow>(
        `WITH prev AS (${leaseSelect(table)}),
         took AS (UPDATE ${qualified(table)} SET token = token + 1, holder_pod = $1, holder_host = $2, holder_pid = $3,
             berth_version = $4, since = clock_timestamp(), heartbeat_at = clock_timestamp(),
             expires_at = clock_timestamp() + $5 * interval '1 millisecond', released = false
           WHERE id = 1 AND expires_at <= clock_timestamp() RETURNING token)
         SELECT prev.*, took.token::text AS taken FROM prev LEFT JOIN took ON true`,
        [claim.pod, claim.host, claim.pid, claim.berthVersion, Math.round(ttlMs)]));
      return rows[0];
    };
    let row = await attempt().catch((err: unknown) => {
      if (isNoHistory(err)) return undefined;
      throw err;
    });
    if (!row) {
      await this.#ensureLeaseTable(table);
      row = await attempt();
    }
    if (!row) throw new ConnectionLostError(`the lease table ${table.schema}.${table.table} has no row`);
    const holder = leaseHolder(row);
    if (row.taken == null) return { token: null, holder };
    return { token: BigInt(row.taken), previous: holder.since === null ? null : holder };
  }

  /**
   * Creates the lease table and its one row. Two runners doing it at once would race in the
   * catalog (CREATE TABLE IF NOT EXISTS is not safe against itself): a transaction-level advisory
   * lock, which a transaction pooler keeps for the transaction, orders them.
   */
  async #ensureLeaseTable(table: HistoryTable): Promise<void> {
    const { rows } = await this.#run(() => this.#s.query<{ missing: boolean }>('SELECT to_regnamespace($1) IS NULL AS missing', [quoteIdent(table.schema)]));
    try {
      await this.#run(() => this.#s.simple(`BEGIN;
        SELECT pg_advisory_xact_lock(hashtextextended(${quoteLiteral(`berth-lease ${qualified(table)}`)}, 0));
        ${rows[0]?.missing ? `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)};` : ''}
        CREATE TABLE IF NOT EXISTS ${qualified(table)} (
          id smallint PRIMARY KEY CHECK (id = 1),
          token bigint NOT NULL UNIQUE,
          holder_pod text,
          holder_host text,
          holder_pid integer,
          berth_version text,
          since timestamptz,
          heartbeat_at timestamptz,
          expires_at timestamptz NOT NULL,
          released boolean NOT NULL
        );
        INSERT INTO ${qualified(table)} (id, token, expires_at, released) VALUES (1, 0, '-infinity', true) ON CONFLICT (id) DO NOTHING;
        COMMIT`));
    } catch (err) {
      // The failed transaction must not stay open on whichever server session the pooler gave it.
      await this.rollback().catch(() => undefined);
      throw err;
    }
  }

  async renewLease(table: HistoryTable, token: bigint, ttlMs: number): Promise<boolean> {
    const { rows } = await this.#run(() => this.#s.query(
      `UPDATE ${qualified(table)} SET heartbeat_at = clock_timestamp(), expires_at = clock_timestamp() + $2 * interval '1 millisecond'
        WHERE id = 1 AND token = $1 AND NOT released AND expires_at > clock_timestamp() RETURNING token`,
      [token.toString(), Math.round(ttlMs)]));
    return rows.length === 1;
  }

  async releaseLease(table: HistoryTable, token: bigint): Promise<void> {
    await this.#run(() => this.#s.query(
      `UPDATE ${qualified(table)} SET released = true, expires_at = clock_timestamp() WHERE id = 1 AND token = $1 AND NOT released`,
      [token.toString()]));
  }

  async readLease(table: HistoryTable): Promise<LeaseHolder | null> {
    // Every run with the advisory lock asks: look first, rather than leave an "undefined table"
    // error in the server's log each time.
    const { rows: found } = await this.#run(() => this.#s.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [qualified(table)]));
    if (!found[0]?.found) return null;
    try {
      const { rows } = await this.#run(() => this.#s.query<LeaseRow>(leaseSelect(table)));
      return rows[0] ? leaseHolder(rows[0]) : null;
    } catch (err) {
      if (isNoHistory(err)) return null;
      throw err;
    }
  }

  async readHistory(table: HistoryTable): Promise<HistoryRow[] | null> {
    const present = await this.#addedColumns(table);
    try {
      const { rows } = await this.#run(() => this.#s.query<{
        version: string; name: string; checksum: string; status: HistoryStatus; statements_applied: number | null;
        statements_total: number | null; applied_ms: number; duration_ms: number | null; applied_by: string | null;
        host: string | null; berth_version: string | null; release: string | null; backup: string | null;
      }>(
        // applied_at as epoch milliseconds: a number is parsed natively, a timestamp by pg's
        // date parser in JavaScript (1,000 rows are read at every pod start). The columns an
        // older berth did not create read as NULL.
        `SELECT version, name, checksum, status, statements_applied, statements_total,
            (extract(epoch FROM applied_at) * 1000)::float8 AS applied_ms, duration_ms,
            applied_by, host, berth_version,
            ${ADDED_COLUMNS.map((c) => present.includes(c.name) ? quoteIdent(c.name) : `NULL::text AS ${quoteIdent(c.name)}`).join(', ')}
           FROM ${qualified(table)} ORDER BY version`));
      return rows.map((r) => ({
        version: Number(r.version),
        name: r.name,
        checksum: r.checksum,
        status: r.status,
        statementsApplied: r.statements_applied,
        statementsTotal: r.statements_total,
        appliedAt: new Date(r.applied_ms),
        durationMs: r.duration_ms,
        appliedBy: r.applied_by,
        host: r.host,
        berthVersion: r.berth_version,
        release: r.release,
        backup: r.backup,
      }));
    } catch (err) {
      if (isNoHistory(err)) return null;
      throw err;
    }
  }

  /**
   * Which of ADDED_COLUMNS the table has, asked once per session and table: selecting a column a
   * table lacks fails, and reading each row as JSON instead costs ~20 ms per 1,000 rows.
   */
  async #addedColumns(table: HistoryTable): Promise<readonly string[]> {
    const key = qualified(table);
    const known = this.#columns.get(key);
    if (known) return known;
    const { rows } = await this.#run(() => this.#s.query<{ exists: boolean; names: string[] | null }>(
      `SELECT to_regclass($1) IS NOT NULL AS exists,
          (SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = ANY($2::text[]) AND NOT attisdropped) AS names`,
      [key, ADDED_COLUMNS.map((c) => c.name)]));
    const names = rows[0]?.names ?? [];
    // A table that does not exist yet is asked about again: it may be created by then.
    if (rows[0]?.exists) this.#columns.set(key, names);
    return names;
  }

  /** The added columns an insert writes: those the table is known to have (all, for a table this session has not read). */
  #insertable(table: HistoryTable): readonly string[] {
    return (this.#columns.get(qualified(table)) ?? ADDED_COLUMNS.map((c) => c.name)).filter((name) => ADDED_COLUMNS.some((c) => c.name === name));
  }

  async historySummary(table: HistoryTable, expected?: readonly { readonly version: number; readonly checksum: string }[]): Promise<HistorySummary | null> {
    // Both sides render the history as the same text, a line per version in order, and the server
    // compares. Parsing 1,000 rows of 11 columns in JavaScript costs ~20 ms; this, one row.
    const text = expected === undefined ? null
      : [...expected].sort((a, b) => a.version - b.version).map((m) => `${m.version} applied ${m.checksum}`).join('\n');
    try {
      const { rows } = await this.#run(() => this.#s.query<{ v: string | null; unsettled: boolean | null; same: boolean | null }>(
        `SELECT max(version) FILTER (WHERE status = 'applied') AS v, bool_or(status <> 'applied') AS unsettled,
            $1::text IS NOT NULL AND coalesce(string_agg(version || ' ' || status || ' ' || checksum, E'\\n' ORDER BY version), '') = $1 AS same
           FROM ${qualified(table)}`, [text]));
      const row = rows[0];
      return { current: row?.v == null ? null : Number(row.v), unsettled: row?.unsettled === true, matches: row?.same === true };
    } catch (err) {
      if (isNoHistory(err)) return null;
      throw err;
    }
  }

  async inspectTables(tables: readonly HistoryTable[], options: { readonly rows: boolean }): Promise<InspectedTable[]> {
    if (tables.length === 0) return [];
    // The catalog rather than information_schema: it lists a table whatever the privileges on it,
    // and a table we may not read should be reported as such, not as missing.
    const { rows } = await this.#run(() => this.#s.query<{ ord: string; col: string; type: string }>(
      `SELECT w.ord, a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema_name, table_name, ord)
         JOIN pg_namespace n ON n.nspname = w.schema_name
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY w.ord, a.attnum`,
      [tables.map((t) => t.schema), tables.map((t) => t.table)]));
    const found = new Map<number, { name: string; type: string }[]>();
    for (const r of rows) {
      const ord = Number(r.ord);
      if (!found.has(ord)) found.set(ord, []);
      found.get(ord)!.push({ name: r.col, type: r.type });
    }
    const result: InspectedTable[] = [];
    for (const [ord, columns] of [...found].sort(([a], [b]) => a - b)) {
      const table = tables[ord - 1]!;
      if (!options.rows) {
        result.push({ schema: table.schema, table: table.table, columns });
        continue;
      }
      const select = columns.map((c) => `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}`).join(', ');
      const read = await this.#run(() => this.#s.query<Record<string, string | null>>(`SELECT ${select} FROM ${qualified(table)}`));
      result.push({ schema: table.schema, table: table.table, columns, rows: read.rows });
    }
    return result;
  }

  async ensureHistoryTable(table: HistoryTable): Promise<'created' | 'upgraded' | 'current' | 'outdated'> {
    // CREATE SCHEMA IF NOT EXISTS checks the database's CREATE privilege before it looks whether
    // the schema exists: a role that may only create tables in an existing schema would be refused.
    // An existing table is altered only when a column is missing: ALTER TABLE takes an ACCESS
    // EXCLUSIVE lock even when it has nothing to add, and every pod's up-to-date check reads it.
    const { rows } = await this.#run(() => this.#s.query<{ missing: boolean; columns: string[] | null }>(
      `SELECT to_regnamespace($1) IS NULL AS missing,
          (SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = to_regclass($2) AND attnum > 0 AND NOT attisdropped) AS columns`,
      [quoteIdent(table.schema), qualified(table)]));
    const columns = rows[0]?.columns;
    this.#columns.delete(qualified(table));
    if (columns) {
      const add = ADDED_COLUMNS.filter((c) => !columns.includes(c.name));
      if (add.length === 0) return 'current';
      try {
        await this.#run(() => this.#s.simple(`ALTER TABLE ${qualified(table)} ${add.map((c) => `ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${c.type}`).join(', ')}`));
      } catch (err) {
        // Only the table's owner may add columns: a role that may only write rows goes on without them.
        if (!(err instanceof DriverQueryError && err.family === 'privilege')) throw err;
        this.#columns.set(qualified(table), columns.filter((name) => ADDED_COLUMNS.some((c) => c.name === name)));
        return 'outdated';
      }
      return 'upgraded';
    }
    await this.#run(() => this.#s.simple(`
      ${rows[0]?.missing ? `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)};` : ''}
      CREATE TABLE IF NOT EXISTS ${qualified(table)} (
        version bigint PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        status text NOT NULL CHECK (status IN ('applied', 'started', 'failed')),
        statements_applied integer,
        statements_total integer,
        applied_at timestamptz NOT NULL DEFAULT now(),
        duration_ms integer,
        applied_by text DEFAULT current_user,
        host text,
        berth_version text,
        ${ADDED_COLUMNS.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(',\n        ')}
      )`));
    return 'created';
  }

  async writeHistory(table: HistoryTable, change: HistoryWrite, lockKey: LockGuard | null): Promise<boolean> {
    const held = lockKey === null ? 'true' : lockHeldSql(lockKey, 'lock-row');
    let sql: string;
    if ('insert' in change) {
      sql = insertHistorySql(table, change.insert, String(Math.round(change.insert.durationMs)), this.#insertable(table), held);
    } else if ('update' in change) {
      const { set: c } = change;
      const set = [
        c.status === undefined ? undefined : `status = ${quoteLiteral(c.status)}`,
        c.statementsApplied === undefined ? undefined : `statements_applied = ${Math.trunc(c.statementsApplied)}`,
        c.durationMs === undefined ? undefined : `duration_ms = ${Math.round(c.durationMs)}`,
        c.checksum === undefined ? undefined : `checksum = ${quoteLiteral(c.checksum)}`,
      ].filter((x) => x !== undefined);
      if (set.length === 0) return true;
      sql = `UPDATE ${qualified(table)} SET ${set.join(', ')} WHERE version = ${Math.trunc(change.update)} AND ${held}`;
    } else {
      sql = `DELETE FROM ${qualified(table)} WHERE version = ${Math.trunc(change.delete)} AND ${held}`;
    }
    // One simple-protocol message with literals: it runs once per migration (and per statement of
    // a no-transaction file), where parse/bind/execute would cost several times its server time.
    const rows = await this.#run(() => this.#s.simple(asBerth(`${sql} RETURNING version`)));
    return rows.length === 1;
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number }> {
    if (params !== undefined) return this.#run(() => this.#s.query(sql, params));
    const rows = await this.#run(() => this.#s.simple(sql));
    return { rows, rowCount: rows.length };
  }

  async beginMigration(options: MigrationSessionOptions, lockKey: LockGuard | null): Promise<{ pid: number; lockHeld: boolean }> {
    const sql = [
      ...this.#prologue(options, lockKey),
      `SELECT pg_backend_pid() AS pid, ${lockKey === null ? 'true' : lockHeldSql(lockKey, 'look')} AS held`,
    ].join('; ');
    const [row] = await this.#run(() => this.#s.simple<{ pid: number; held: boolean }>(sql));
    return { pid: Number(row?.pid), lockHeld: row?.held === true };
  }

  /**
   * The statements that start every migration: berth's own session user and role again (a
   * previous file may have run SET ROLE or SET SESSION AUTHORIZATION, which RESET ALL leaves
   * alone), RESET ALL (never DISCARD ALL, which would drop the advisory lock) undoes any other SET
   * of the previous file, the session settings are applied again, then the transaction and the
   * file's timeouts.
   */
  #prologue(options: MigrationSessionOptions, guard: LockGuard | null): string[] {
    const scope = options.transaction ? 'SET LOCAL' : 'SET';
    // Under a lease the session settings may not be in force (a transaction pooler), yet a frozen
    // runner must not keep its transaction, and the row lock its fence takes, open for ever.
    const idle = options.transaction && guard !== null && 'lease' in guard && this.#options.sessionLimits
      ? [`SET LOCAL idle_in_transaction_session_timeout = ${IDLE_IN_TRANSACTION_MS}`] : [];
    return [
      'SET SESSION AUTHORIZATION DEFAULT',
      'RESET ROLE',
      'RESET ALL',
      ...this.#sessionSetup,
      ...(options.transaction ? ['BEGIN'] : []),
      ...idle,
      ...(options.lockTimeoutMs === undefined ? [] : [`${scope} lock_timeout = ${Math.round(options.lockTimeoutMs)}`]),
      ...(options.statementTimeoutMs === undefined ? [] : [`${scope} statement_timeout = ${Math.round(options.statementTimeoutMs)}`]),
    ];
  }

  async #runScript(script: TransactionalScript): Promise<ScriptOutcome> {
    const session = this.#s;
    if (!session.script) throw new TypeError('this session cannot run scripts');
    // The checks of SPEC §4.1 must stop the script on the server, since nothing can be looked at
    // before the next statement runs: each guard divides by zero when its condition is false. The
    // server's message is never shown; which guard failed is known from where the script stopped.
    const guard = script.lockKey;
    const held = (how: 'look' | 'lock-row') => guard === null ? [] : [`SELECT 1 / (${lockHeldSql(guard, how)})::int AS lock_held`];
    const history = 'insert' in script.history
      ? insertHistorySql(script.table, script.history.insert, 'round(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)', this.#insertable(script.table))
      : `DELETE FROM ${qualified(script.table)} WHERE version = ${Math.trunc(script.history.deleteVersion)}`;
    const parts: { readonly role: 'setup' | 'session' | 'lock' | 'statement' | 'history' | 'commit'; readonly sql: string }[] = [
      ...this.#prologue({ ...script.session, transaction: true }, guard).map((sql) => ({ role: 'setup' as const, sql })),
      ...(script.expectedPid === null ? [] : [{ role: 'session' as const, sql: `SELECT 1 / (pg_backend_pid() = ${Math.trunc(script.expectedPid)})::int AS same_session` }]),
      ...(script.lockVerified ? [] : held('look')).map((sql) => ({ role: 'lock' as const, sql })),
      ...script.statements.map((sql) => ({ role: 'statement' as const, sql })),
      // berth's own statements run as berth, whatever role the file switched to.
      ...AS_BERTH.map((sql) => ({ role: 'setup' as const, sql })),
      // Again just before COMMIT: a statement of the file may have released the lock, or the
      // lease expired; a lease row stays locked against a takeover until COMMIT.
      ...held('lock-row').map((sql) => ({ role: 'lock' as const, sql })),
      { role: 'history', sql: history },
      { role: 'commit', sql: 'COMMIT' },
    ];
    const text = parts.map((part) => part.sql).join(';\n');
    const { completed, error } = await this.#inFlight(() => session.script!(text));
    if (error === undefined) return { ok: true };
    // Classified like any other call: a lost session marks this driver lost and is thrown.
    const driverError = await this.#run(() => Promise.reject(error)).catch((e: unknown) => e);
    // COMMIT completed before the session went away: the migration is in, and the next
    // statement on this session will report the loss.
    if (completed >= parts.length) return { ok: true };
    if (!(driverError instanceof DriverQueryError)) throw driverError;
    // The server counts positions in the whole message. A statement it cannot parse fails the
    // message before anything runs (nothing completed), so its position, not the count of
    // completed statements, says which part it was.
    const { position } = driverError.info;
    const starts: number[] = [];
    let offset = 0;
    for (const part of parts) {
      starts.push(offset);
      offset += codePointLength(part.sql) + 2; // the ';\n' between parts
    }
    let failedAt = completed;
    if (position !== undefined) {
      while (failedAt + 1 < parts.length && starts[failedAt + 1]! < position) failedAt++;
      while (failedAt > 0 && starts[failedAt]! >= position) failedAt--;
    }
    const failed = parts[failedAt]!;
    switch (failed.role) {
      case 'session':
        return { ok: false, failed: 'session-changed' };
      case 'lock':
        return { ok: false, failed: 'lock-lost' };
      case 'statement': {
        const index = parts.slice(0, failedAt).filter((part) => part.role === 'statement').length;
        if (position === undefined) return { ok: false, failed: 'statement', index, error: driverError };
        // The caller wants the position within the statement.
        const info = { ...driverError.info, position: position - starts[failedAt]! };
        return { ok: false, failed: 'statement', index, error: new DriverQueryError(info, driverError.family, { cause: error }) };
      }
      case 'commit':
        return { ok: false, failed: 'commit', error: driverError };
      case 'setup':
      case 'history':
        return { ok: false, failed: failed.role, error: driverError };
    }
  }

  async commit(): Promise<void> {
    await this.#run(() => this.#s.simple('COMMIT'));
  }

  async rollback(): Promise<void> {
    if (this.#lost || !this.#session) return;
    await this.#run(() => this.#s.simple('ROLLBACK'));
  }

  async cancel(): Promise<void> {
    // Behind a pooler the announced process id is the pooler's: only it can route a cancel.
    await this.#session?.cancel(this.#claim?.pooled ? 'protocol' : undefined);
  }

  activity(): SessionActivity {
    return {
      lost: this.#lost,
      busySince: this.#busySince,
      lastRoundTripAt: this.#lastActivity || null,
      ...(this.#heartbeat ? { heartbeat: { everyMs: HEARTBEAT_AFTER_MS, pendingSince: this.#heartbeatSent } } : {}),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    const session = this.#session;
    this.#session = undefined;
    await session?.end().catch(() => undefined);
  }

  get #s(): SqlSession {
    if (!this.#session || this.#lost) throw new ConnectionLostError('the database session is closed');
    return this.#session;
  }

  /** Normalises client errors into DriverQueryError / ConnectionLostError. */
  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#inFlight(fn);
    } catch (err) {
      if (err instanceof ConnectionLostError || err instanceof DriverQueryError) throw err;
      const info = serverErrorInfo(err);
      const fatal = ['FATAL', 'PANIC'].includes(String((err as { severity?: unknown }).severity));
      if (info && !fatal && !CONNECTION_GONE.has(info.sqlState ?? '')) throw new DriverQueryError(info, postgresErrorFamily(info), { cause: err });
      this.#lost = true;
      const message = err instanceof Error ? err.message : String(err);
      throw new ConnectionLostError(message, { cause: err });
    }
  }

  /** Counts a call in flight: the heartbeat stays quiet meanwhile, and `activity` says since when. */
  async #inFlight<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#busy++ === 0) this.#busySince = Date.now();
    try {
      return await fn();
    } finally {
      if (--this.#busy === 0) this.#busySince = null;
      this.#lastActivity = Date.now();
    }
  }
}

/** Columns a history table created by an older berth may lack; `ensureHistoryTable` adds them (nullable, no default: instant). */
const ADDED_COLUMNS = [{ name: 'release', type: 'text' }, { name: 'backup', type: 'text' }] as const;

/**
 * Makes berth's own statements run as berth's session user and start-up role, whatever a migration
 * switched to (SET ROLE app_owner, the owner-role pattern), without undoing that switch for the
 * rest of the file: SET LOCAL ends with the transaction, either the migration's, or, outside one,
 * the implicit transaction of a message of several statements.
 */
const AS_BERTH = ['SET LOCAL SESSION AUTHORIZATION DEFAULT', 'SET LOCAL role TO DEFAULT'];

function asBerth(sql: string): string {
  return [...AS_BERTH, sql].join('; ');
}

/**
 * The history INSERT as one simple-protocol statement with literals: it runs once per migration,
 * and the extended protocol's parse/bind/execute would cost several times its server time.
 * With `where`, the row is written only if that condition holds.
 */
function insertHistorySql(table: HistoryTable, row: Omit<NewHistoryRow, 'durationMs'>, durationSql: string, added: readonly string[], where?: string): string {
  const values = [
    String(Math.trunc(row.version)), quoteLiteral(row.name), quoteLiteral(row.checksum), quoteLiteral(row.status),
    String(Math.trunc(row.statementsApplied)), String(Math.trunc(row.statementsTotal)), durationSql,
    'current_user', nullableLiteral(row.host), nullableLiteral(row.berthVersion),
    ...(added.includes('release') ? [nullableLiteral(row.release)] : []), ...(added.includes('backup') ? [nullableLiteral(row.backup)] : []),
  ];
  return `INSERT INTO ${qualified(table)}
    (version, name, checksum, status, statements_applied, statements_total, duration_ms, applied_by, host, berth_version${added.map((c) => `, ${quoteIdent(c)}`).join('')})
    SELECT ${values.join(', ')}${where === undefined ? '' : ` WHERE ${where}`}`;
}


function poolerError(evidence: string): TargetRejectedError {
  return new TargetRejectedError('ERR_DB_POOLER',
    `the connection goes through a pooler that does not keep berth's server session between transactions (transaction pooling): ${evidence}. ` +
    'A session-level migration lock cannot work there, and nothing was locked, SET or changed. Connect the migrator directly to PostgreSQL, ' +
    'or through a session-mode pool (PgBouncer: pool_mode = session).');
}

/** pg_locks shows a bigint advisory key as two oids: high and low 32 bits, objsubid 1. */
function lockKeyParts(key: bigint): [string, string] {
  const unsigned = BigInt.asUintN(64, key);
  return [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()];
}

/** The LISTEN/NOTIFY channel on which `unlock` announces that the lock for `key` is free. */
function unlockChannel(key: bigint): string {
  return `berth_unlock_${BigInt.asUintN(64, key).toString(16)}`;
}

/**
 * True while the guard holds. A lease holds while its row carries the token and has not expired
 * by the server's clock (clock_timestamp(): now() would be the start of a long transaction).
 * `lock-row` also takes FOR KEY SHARE on the row until the transaction ends: a takeover changes
 * the token, a key column, so it waits for this transaction, which therefore commits only while
 * the lease is its own; a heartbeat changes no key column and never waits for it.
 */
function lockHeldSql(guard: LockGuard, how: 'look' | 'lock-row' = 'look'): string {
  if ('lease' in guard) {
    return `EXISTS (SELECT 1 FROM ${qualified(guard.lease)} WHERE id = 1 AND token = ${BigInt.asIntN(64, guard.token).toString()}
      AND NOT released AND expires_at > clock_timestamp()${how === 'lock-row' ? ' FOR KEY SHARE' : ''})`;
  }
  const [classid, objid] = lockKeyParts(guard.key);
  return `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
    AND pid = pg_backend_pid() AND classid = ${classid}::bigint::oid AND objid = ${objid}::bigint::oid)`;
}

interface LeaseRow {
  token: string; holder_pod: string | null; holder_host: string | null; holder_pid: number | null; berth_version: string | null;
  since: string | null; heartbeat_age_ms: string | null; released: boolean; expired: boolean; taken?: string | null;
}

function leaseSelect(table: HistoryTable): string {
  return `SELECT token::text AS token, holder_pod, holder_host, holder_pid, berth_version,
      to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS since,
      (extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)::bigint::text AS heartbeat_age_ms,
      released, expires_at <= clock_timestamp() AS expired
    FROM ${qualified(table)} WHERE id = 1`;
}

function leaseHolder(row: LeaseRow): LeaseHolder {
  return {
    token: row.token, pod: row.holder_pod, host: row.holder_host, pid: row.holder_pid === null ? null : Number(row.holder_pid),
    berthVersion: row.berth_version, since: row.since, heartbeatAgeMs: row.heartbeat_age_ms === null ? null : Number(row.heartbeat_age_ms),
    released: row.released, expired: row.expired,
  };
}

/** A string literal that reads the same whatever `standard_conforming_strings` is (E'' escapes). */
function quoteLiteral(value: string): string {
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function nullableLiteral(value: string | null | undefined): string {
  return value == null ? 'NULL' : quoteLiteral(value);
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function qualified(table: HistoryTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}

/** 42P01 undefined_table, 3F000 invalid_schema_name: nothing was ever applied here. */
function isNoHistory(err: unknown): boolean {
  return err instanceof DriverQueryError && (err.info.sqlState === '42P01' || err.info.sqlState === '3F000');
}

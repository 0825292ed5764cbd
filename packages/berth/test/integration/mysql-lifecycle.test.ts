/**
 * berth on MySQL / MariaDB, through the real CLI against the real server: every command, the
 * failed state DDL leaves, the session between migrations, timeouts, and what a user gets wrong.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { mysqlServer, mysqlUrl, useMysqlDatabase, type MysqlTestDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();

const run = (db: MysqlTestDatabase, args: string[], env: Record<string, string> = {}) =>
  runBerth([...args, '--log-format', 'json'], { env: { DATABASE_URL: db.url, ...env } });

describe.skipIf(!server)('berth on MySQL / MariaDB', () => {
  const db = useMysqlDatabase(server!, 'life');

  it('migrate, status, check, down, migrate again: the history table in MySQL types, every migration through started', async () => {
    const dir = writeMigrations({
      '1_users.up.sql': 'CREATE TABLE users (\n  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  email VARCHAR(255) NOT NULL,\n  UNIQUE KEY uq_users_email (email)\n) ENGINE=InnoDB;\n',
      '1_users.down.sql': 'DROP TABLE users;\n',
      '2_seed.up.sql': "INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');\n",
      '2_seed.down.sql': 'DELETE FROM users;\n',
    });
    const up = await run(db(), ['migrate', '--dir', dir], { BERTH_DEBUG: '1' });
    expect(up.code, up.stderr).toBe(0);
    const events = jsonLines(up.stderr);
    // DDL commits implicitly: no migration claims a transaction.
    expect(events.filter((e) => e.event === 'migration.start').map((e) => e.transaction)).toEqual([false, false]);
    expect(events.find((e) => e.event === 'lint.skipped')).toBeDefined();
    expect(events.filter((e) => String(e.msg ?? '').startsWith('lint')).length).toBe(1);
    // Every line, the MySQL-only ones included, is an event of the published schema.
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addFormat('date-time', (t: string) => !Number.isNaN(Date.parse(t)));
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(REPO_ROOT, 'docs/events/v1.schema.json'), 'utf8')));
    for (const line of events) expect(validate(line), `${JSON.stringify(line)}: ${ajv.errorsText(validate.errors)}`).toBe(true);

    const rows = await db().query<{ version: string; status: string; statements_applied: number; statements_total: number; applied_by: string }>(
      'SELECT version, status, statements_applied, statements_total, applied_by FROM berth_migrations ORDER BY version');
    expect(rows).toEqual([
      { version: '1', status: 'applied', statements_applied: 1, statements_total: 1, applied_by: expect.stringMatching(/@/) },
      { version: '2', status: 'applied', statements_applied: 1, statements_total: 1, applied_by: expect.stringMatching(/@/) },
    ]);
    const columns = await db().query<{ c: string; t: string }>(
      'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', ['berth_migrations']);
    expect(columns.find((c) => c.c === 'version')?.t).toMatch(/^bigint/);
    expect(columns.find((c) => c.c === 'applied_at')?.t).toBe('timestamp(3)');

    const status = await run(db(), ['status', '--dir', dir, '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ current: 2, pending: [] });
    const check = await run(db(), ['check', '--dir', dir]);
    expect(check.code, check.stderr).toBe(0);

    const down = await run(db(), ['down', '--all', '--dir', dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(await db().query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'")).toEqual([]);
    expect(await db().query('SELECT version FROM berth_migrations')).toEqual([]);

    const metrics = `${writeMigrations({})}/berth.prom`;
    const again = await run(db(), ['migrate', '--dir', dir, '--metrics-file', metrics]);
    expect(again.code, again.stderr).toBe(0);
    const prom = readFileSync(metrics, 'utf8');
    const { hostname, port } = new URL(db().url);
    expect(prom).toContain(`database="${hostname}:${port || 3306}/${db().name}"`);
    expect(prom).toMatch(/berth_schema_version\{[^}]*\} 2/);
    expect(prom).toMatch(/berth_migrations_applied_total\{[^}]*\} 2/);
    expect(await db().query('SELECT COUNT(*) AS n FROM users')).toEqual([{ n: '2' }]);
    // Up to date: the no-op answers from one query, no lock taken.
    const noop = await run(db(), ['migrate', '--dir', dir]);
    expect(noop.code, noop.stderr).toBe(0);
    expect(jsonLines(noop.stderr).some((e) => e.event === 'lock.acquired')).toBe(false);
    await db().query('DROP TABLE users');
    await db().query('DROP TABLE berth_migrations');
  });

  it('a statement failing after DDL is recorded failed with file and line; migrate then stops (exit 5) until resolve', async () => {
    await db().query('CREATE TABLE acct (id INT PRIMARY KEY)');
    const files = {
      '1_alter.up.sql': '-- berth:lock-timeout 5s\nALTER TABLE acct ADD COLUMN note VARCHAR(10);\nALTER TABLE acct MODIFY note VARCHAR(20) NULL;\nSELECT *\n  FROM acct WHERE;\n',
    };
    const dir = writeMigrations(files);
    const failed = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_fail']);
    expect(failed.code).toBe(1);
    const error = jsonLines(failed.stderr).find((e) => e.event === 'run.error');
    expect(String(error?.msg)).toMatch(/1_alter\.up\.sql:5:18: You have an error in your SQL syntax/);
    expect(String(error?.msg)).toContain('recorded as failed after 2 of 3 statements');
    expect(await db().query('SELECT status, statements_applied FROM hist_fail')).toEqual([{ status: 'failed', statements_applied: 2 }]);
    // The DDL before it stays: it committed when it ran.
    expect(await db().query("SELECT COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'acct' AND COLUMN_NAME = 'note'"))
      .toEqual([{ t: 'varchar(20)' }]);

    const blocked = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_fail']);
    expect(blocked.code).toBe(5);
    expect(blocked.stderr).toContain('berth resolve 1');

    const resolved = await run(db(), ['resolve', '1', '--applied', '--dir', dir, '--table', 'hist_fail']);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(await db().query('SELECT status FROM hist_fail')).toEqual([{ status: 'applied' }]);
    // The file no longer matches what was recorded at resolve? It does: resolve took its checksum.
    const validate = await run(db(), ['validate', '--dir', dir, '--table', 'hist_fail']);
    expect(validate.code, validate.stderr).toBe(0);
  });

  it('a DML file in START TRANSACTION ... COMMIT that fails inside it is rolled back, and recorded failed', async () => {
    await db().query('CREATE TABLE tx_t (id INT PRIMARY KEY)');
    const dir = writeMigrations({ '1_tx.up.sql': 'START TRANSACTION;\nINSERT INTO tx_t VALUES (1);\nINSERT INTO tx_t VALUES (1);\nCOMMIT;\n' });
    const failed = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_tx']);
    expect(failed.code).toBe(1);
    expect(jsonLines(failed.stderr).find((e) => e.event === 'run.error')?.msg).toMatch(/1_tx\.up\.sql:3:1: Duplicate entry/);
    expect(await db().query('SELECT id FROM tx_t')).toEqual([]);
    expect(await db().query('SELECT status, statements_applied FROM hist_tx')).toEqual([{ status: 'failed', statements_applied: 2 }]);
  });

  it('baseline, repair and await', async () => {
    const files = { '1_a.up.sql': 'CREATE TABLE base_a (id INT);\n', '2_b.up.sql': 'CREATE TABLE base_b (id INT);\n' };
    const dir = writeMigrations(files);
    const baseline = await run(db(), ['baseline', '1', '--dir', dir, '--table', 'hist_base']);
    expect(baseline.code, baseline.stderr).toBe(0);
    const up = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_base']);
    expect(up.code, up.stderr).toBe(0);
    expect(await db().query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'base_%' ORDER BY 1")).toEqual([{ t: 'base_b' }]);

    const changed = writeMigrations({ ...files, '2_b.up.sql': 'CREATE TABLE base_b (id INT); -- reviewed\n' });
    expect((await run(db(), ['validate', '--dir', changed, '--table', 'hist_base'])).code).toBe(5);
    const repair = await run(db(), ['repair', '--dir', changed, '--table', 'hist_base']);
    expect(repair.code, repair.stderr).toBe(0);
    expect((await run(db(), ['validate', '--dir', changed, '--table', 'hist_base'])).code).toBe(0);

    const reached = await run(db(), ['await', '--dir', changed, '--table', 'hist_base', '--timeout', '5s']);
    expect(reached.code, reached.stderr).toBe(0);
    const waited = await run(db(), ['await', '--version', '3', '--table', 'hist_base', '--timeout', '1s', '--dir', changed]);
    expect(waited.code).toBe(3);
  });

  it('each migration starts from the session as it was: a SET or USE of the previous file does not leak', async () => {
    const dir = writeMigrations({
      '1_leaky.up.sql': "SET foreign_key_checks = 0;\nSET SESSION sql_mode = 'ANSI_QUOTES';\nSET time_zone = '+05:00';\nUSE mysql;\n",
      '2_look.up.sql': 'CREATE TABLE seen AS SELECT @@foreign_key_checks AS fk, @@sql_mode AS mode, @@time_zone AS tz, DATABASE() AS db;\n',
    });
    const before = await db().query<{ mode: string; tz: string }>('SELECT @@sql_mode AS mode, @@time_zone AS tz');
    const up = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_session']);
    expect(up.code, up.stderr).toBe(0);
    expect(await db().query('SELECT fk, mode, tz, db FROM seen')).toEqual([{ fk: '1', mode: before[0]!.mode, tz: before[0]!.tz, db: db().name }]);
  });

  it('the file timeouts: lock-timeout fails fast on a held row lock, statement-timeout stops a slow statement', async () => {
    await db().query('CREATE TABLE locked (id INT PRIMARY KEY, n INT)');
    await db().query('INSERT INTO locked VALUES (1, 0)');
    const holder = await db().connect();
    await holder.query('START TRANSACTION');
    await holder.query('UPDATE locked SET n = 1 WHERE id = 1');
    try {
      const dir = writeMigrations({ '1_touch.up.sql': '-- berth:lock-timeout 1s\nUPDATE locked SET n = 2 WHERE id = 1;\n' });
      const blocked = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_timeouts']);
      expect(blocked.code).toBe(1);
      expect(jsonLines(blocked.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_MIGRATION_TIMEOUT' });
      expect(blocked.stderr).toContain('lock timeout fired');
    } finally {
      await holder.query('ROLLBACK');
    }
    const slow = writeMigrations({ '1_slow.up.sql': '-- berth:statement-timeout 1s\nSELECT SLEEP(5) FROM locked;\n' });
    const stopped = await run(db(), ['migrate', '--dir', slow, '--table', 'hist_timeouts2']);
    if (server!.mariadb) {
      expect(stopped.code).toBe(1);
      expect(stopped.stderr).toContain('statement timeout fired');
    }
    expect(stopped.durationMs).toBeLessThan(4_500);
  });

  it('code migrations run their ctx.sql on MySQL, with PostgreSQL-style numbered parameters in the template', async () => {
    const dir = writeMigrations({
      '1_code.mjs': "export async function up(ctx) {\n  await ctx.sql('CREATE TABLE code_t (id INT, label VARCHAR(20))');\n  const label = \"it's\";\n  await ctx.sql`INSERT INTO code_t VALUES (${1}, ${label})`;\n  const rows = await ctx.sql('SELECT label FROM code_t WHERE id = ?', [1]);\n  ctx.log(rows[0].label);\n}\n",
    });
    const up = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_code']);
    expect(up.code, up.stderr).toBe(0);
    expect(jsonLines(up.stderr).find((e) => e.event === 'migration.log')?.message).toBe("it's");
  });

  it('DELIMITER and an unterminated quote are refused before anything runs (exit 5)', async () => {
    const dir = writeMigrations({
      '1_proc.up.sql': 'DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\n',
      '2_open.up.sql': "INSERT INTO t VALUES ('open);\n",
    });
    const refused = await run(db(), ['migrate', '--dir', dir, '--table', 'hist_refused']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('1_proc.up.sql:1: DELIMITER is a command of the mysql client');
    expect(refused.stderr).toContain('2_open.up.sql:1: unterminated quoted string');
    expect(await db().query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hist_refused'")).toEqual([]);
  });

  it("adopts golang-migrate's and dbmate's MySQL history tables, and refuses one as --table", async () => {
    // As their MySQL drivers create them: golang-migrate (database/mysql ensureVersionTable) and
    // dbmate (pkg/driver/mysql CreateMigrationsTable).
    await db().query('CREATE DATABASE IF NOT EXISTS `' + db().name + '_gm`');
    const gm = `${db().name}_gm`;
    try {
      await db().query(`CREATE TABLE \`${gm}\`.schema_migrations (version bigint not null primary key, dirty boolean not null)`);
      await db().query(`INSERT INTO \`${gm}\`.schema_migrations VALUES (2, false)`);
      const files = { '1_a.up.sql': 'CREATE TABLE ad_a (id INT);\n', '2_b.up.sql': 'CREATE TABLE ad_b (id INT);\n', '3_c.up.sql': 'CREATE TABLE ad_c (id INT);\n' };
      const dir = writeMigrations(files);
      const url = db().url.replace(`/${db().name}`, `/${gm}`);
      const refused = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: url } });
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain('berth baseline --from golang-migrate');
      const foreign = await runBerth(['migrate', '--dir', dir, '--table', 'schema_migrations', '--log-format', 'json'], { env: { DATABASE_URL: url } });
      expect(jsonLines(foreign.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_HISTORY_TABLE_FOREIGN' });
      const adopted = await runBerth(['baseline', '--from', 'golang-migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: url } });
      expect(adopted.code, adopted.stderr).toBe(0);
      const up = await runBerth(['migrate', '--dir', dir, '--log-format', 'json'], { env: { DATABASE_URL: url } });
      expect(jsonLines(up.stderr).find((e) => e.event === 'run.summary')).toMatchObject({ applied: 1, current: 3 });

      await db().query(`CREATE TABLE \`${gm}\`.dbmate_history (version varchar(128) primary key)`);
      await db().query(`INSERT INTO \`${gm}\`.dbmate_history VALUES ('1'), ('2')`);
      const fromDbmate = await runBerth(['baseline', '--from', 'dbmate', '--from-table', 'dbmate_history', '--dir', dir, '--table', 'hist_dbmate', '--log-format', 'json'], { env: { DATABASE_URL: url } });
      expect(fromDbmate.code, fromDbmate.stderr).toBe(0);
      expect(await db().query(`SELECT version FROM \`${gm}\`.hist_dbmate ORDER BY version`)).toEqual([{ version: '1' }, { version: '2' }]);
    } finally {
      await db().query('DROP DATABASE IF EXISTS `' + gm + '`');
    }
  });

  it('--single-transaction is refused: DDL would commit inside it', async () => {
    const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE st_a (id INT);\n' });
    const refused = await run(db(), ['migrate', '--single-transaction', '--dir', dir, '--table', 'hist_single']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--single-transaction needs a database whose DDL is transactional');
    expect(await db().query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hist_single'")).toEqual([]);
  });
});

describe.skipIf(!server)('connecting to MySQL / MariaDB', () => {
  const db = useMysqlDatabase(server!, 'conn');

  it('a wrong password exits 6 and is never printed', async () => {
    const secret = 'Wr0ng-Pa55-7f3a';
    await db().query(`CREATE USER IF NOT EXISTS 'berth_pw_${db().name.slice(-8)}'@'%' IDENTIFIED BY 'right-one'`);
    const url = new URL(db().url);
    url.username = `berth_pw_${db().name.slice(-8)}`;
    url.password = secret;
    try {
      const result = await runBerth(['migrate', '--dir', writeMigrations({ '1_a.up.sql': 'SELECT 1;' }), '--log-format', 'json', '--wait', '5s'], { env: { DATABASE_URL: url.toString(), BERTH_DEBUG: '1' } });
      expect(result.code).toBe(6);
      expect(jsonLines(result.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_DB_AUTH' });
      expect(result.stderr + result.stdout).not.toContain(secret);
      // Not retried: authentication does not fix itself.
      expect(jsonLines(result.stderr).filter((e) => e.event === 'connect.attempt')).toHaveLength(1);
    } finally {
      await db().query(`DROP USER IF EXISTS 'berth_pw_${db().name.slice(-8)}'@'%'`);
    }
  });

  it('--wait on a closed port retries, then exits 3', async () => {
    const port = await freePort();
    const result = await runBerth(['wait', '--wait', '2s', '--log-format', 'json'], { env: { DATABASE_URL: `mysql://root:pw@127.0.0.1:${port}/x` } });
    expect(result.code).toBe(3);
    const events = jsonLines(result.stderr);
    expect(events.filter((e) => e.event === 'connect.retry').length).toBeGreaterThan(0);
    expect(events.find((e) => e.event === 'run.error')?.msg).toMatch(/gave up waiting.*connection refused/);
  });

  it('a database that does not exist exits 6 naming it', async () => {
    const result = await runBerth(['wait', '--log-format', 'json'], { env: { DATABASE_URL: mysqlUrl(server!, `${db().name}_missing`) } });
    expect(result.code).toBe(6);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_DB_NOT_FOUND' });
  });

  it("a role that may not UPDATE berth's history table fails with exit 6 naming the privilege, not as the migration's statement", async () => {
    const user = `berth_nu_${db().name.slice(-8)}`;
    await db().query(`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY 'nu-pass-5'`);
    await db().query(`GRANT SELECT, INSERT, DELETE, CREATE, DROP ON \`${db().name}\`.* TO '${user}'@'%'`);
    try {
      const url = new URL(db().url);
      url.username = user;
      url.password = 'nu-pass-5';
      const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE nu_a (id INT);\nCREATE TABLE nu_b (id INT);\n' });
      const result = await runBerth(['migrate', '--dir', dir, '--table', 'hist_noupdate', '--log-format', 'json'], { env: { DATABASE_URL: url.toString() } });
      expect(result.code).toBe(6);
      const error = jsonLines(result.stderr).find((e) => e.event === 'run.error');
      expect(error).toMatchObject({ code: 'ERR_DB_PRIVILEGE' });
      expect(String(error?.msg)).toContain('berth could not write its history table');
      expect(String(error?.msg)).toContain('UPDATE command denied');
      // The next step in MySQL's own spelling (CURRENT_USER() is user@host).
      expect(String(error?.msg)).toContain(`GRANT INSERT, UPDATE, DELETE ON \`${db().name}\`.\`hist_noupdate\` TO '${user}'@'%'`);
      // Both statements ran; the row could not say so.
      expect(await db().query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'nu\\_%' ORDER BY 1")).toEqual([{ t: 'nu_a' }, { t: 'nu_b' }]);
      expect(await db().query('SELECT status, statements_applied FROM hist_noupdate')).toEqual([{ status: 'started', statements_applied: 0 }]);
    } finally {
      await db().query(`DROP USER IF EXISTS '${user}'@'%'`);
    }
  });

  it('the password from DATABASE_URL_FILE, masked in what is shown', async () => {
    const user = `berth_f_${db().name.slice(-8)}`;
    await db().query(`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY 'file-secret-91'`);
    await db().query(`GRANT ALL ON \`${db().name}\`.* TO '${user}'@'%'`);
    try {
      const url = new URL(db().url);
      url.username = user;
      url.password = 'file-secret-91';
      const file = writeMigrations({ 'url': `${url.toString()}\n` });
      const result = await runBerth(['wait', '--log-format', 'json'], { env: { DATABASE_URL_FILE: `${file}/url` } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`mysql://${user}:****@`);
      expect(result.stderr).not.toContain('file-secret-91');
    } finally {
      await db().query(`DROP USER IF EXISTS '${user}'@'%'`);
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

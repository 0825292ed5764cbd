/**
 * The release column and the backup before migrating on MySQL / MariaDB, against the real server
 * and the real mysqldump: RELEASE is a reserved word there, a table an older berth created gets
 * the columns under the lock, and every MySQL migration counts as one that cannot be rolled back.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonLines, makeTempDir, runBerth, spawnBerth, writeMigrations } from '../helpers/cli.js';
import { createMysqlDatabase, mysqlServer, useMysqlDatabase, type MysqlTestDatabase } from '../helpers/mysql.js';

const server = await mysqlServer();
const client = (() => {
  for (const program of ['mysqldump', 'mariadb-dump']) {
    try {
      execFileSync(program, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      // Try the next name.
    }
  }
  return false;
})();
if (server && !client && process.env.CI === 'true') throw new Error('mysqldump must be installed in CI (mariadb-client); .ci/run installs it');
if (server && !client) console.log('MySQL backup tests skipped: no mysqldump on PATH (apt-get install mariadb-client)');

const run = (db: MysqlTestDatabase, args: string[], env: Record<string, string> = {}) =>
  runBerth([...args, '--log-format', 'json'], { env: { DATABASE_URL: db.url, ...env }, timeoutMs: 100_000 });

const OLD_TABLE = `CREATE TABLE berth_migrations (version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
  checksum VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, statements_applied INT NULL, statements_total INT NULL,
  applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), duration_ms INT NULL, applied_by VARCHAR(288) NULL,
  host VARCHAR(255) NULL, berth_version VARCHAR(64) NULL) ENGINE = InnoDB`;

async function columns(db: MysqlTestDatabase): Promise<string[]> {
  const rows = await db.query<{ c: string }>(
    `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE) AS c FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`);
  return rows.map((r) => r.c);
}

describe.skipIf(!server)('the release on MySQL / MariaDB', () => {
  const db = useMysqlDatabase(server!, 'release');

  it('an older table is read without the column, gets it under the lock; each row carries its release; status shows it; await --release waits for it', async () => {
    const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);' });
    await db().query(OLD_TABLE);
    const before = await run(db(), ['status', '--json', '--dir', dir]);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout).pending).toHaveLength(1);

    const waiter = spawnBerth(['await', '--dir', dir, '--release', 'v2', '--timeout', '30s', '--log-format', 'json'], { env: { DATABASE_URL: db().url } });
    const up = await run(db(), ['migrate', '--dir', dir, '--release', 'v2']);
    expect(up.code, up.stderr).toBe(0);
    expect(jsonLines(up.stderr).map((e) => e.event)).toContain('history.upgraded');
    const awaited = await waiter.exited;
    expect(awaited.code, awaited.stderr).toBe(0);
    expect(awaited.stdout).toContain('migrated by release v2');

    expect(await db().query('SELECT version, `release` FROM berth_migrations')).toEqual([{ version: '1', release: 'v2' }]);
    const status = await run(db(), ['status', '--dir', dir]);
    expect(status.stdout.split('\n')[1]).toMatch(/^1\s+a\s+applied\s+\S+\s+\d+ms\s+v2$/);
    const missing = await run(db(), ['await', '--dir', dir, '--release', 'v3', '--timeout', '1s']);
    expect(missing.code).toBe(3);
  });

  it('a user that may write the rows of an older table but not alter it migrates without the new columns, and says why', async () => {
    const fresh = await createMysqlDatabase(server!, 'writer');
    const user = `w_${fresh.name.slice(-8)}`;
    try {
      await fresh.query(OLD_TABLE);
      await fresh.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'writer'`);
      await fresh.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${fresh.name}\`.berth_migrations TO '${user}'@'%'`);
      await fresh.query(`GRANT CREATE ON \`${fresh.name}\`.* TO '${user}'@'%'`);
      const url = new URL(fresh.url);
      url.username = user;
      url.password = 'writer';
      const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);' });
      const up = await runBerth(['migrate', '--dir', dir, '--release', 'v9', '--log-format', 'json'], { env: { DATABASE_URL: url.toString() } });
      expect(up.code, up.stderr).toBe(0);
      expect(jsonLines(up.stderr).map((e) => e.code)).toContain('W_HISTORY_COLUMNS');
      expect(await fresh.query('SELECT version, status FROM berth_migrations')).toEqual([{ version: '1', status: 'applied' }]);
    } finally {
      await fresh.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined);
      await fresh.drop();
    }
  });
});

describe.skipIf(!server || !client)('the backup before migrating on MySQL / MariaDB', () => {
  const db = useMysqlDatabase(server!, 'backup');
  let restored: MysqlTestDatabase | undefined;
  afterAll(async () => {
    await restored?.drop();
  });

  it('a failing --backup-command writes nothing: no history table, exit 8; its option file reaches the database', async () => {
    const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);' });
    const out = makeTempDir('berth-mysql-backup-');
    const command = `cp "$BERTH_MYSQL_DEFAULTS_FILE" ${out}/my.cnf; mysql --defaults-extra-file="$BERTH_MYSQL_DEFAULTS_FILE" -N -e 'SELECT 1' "$BERTH_MYSQL_DATABASE" > ${out}/ping; echo "no space left" >&2; exit 1`;
    const failed = await run(db(), ['migrate', '--dir', dir, '--backup-command', command]);
    expect(failed.code, failed.stderr).toBe(8);
    expect(jsonLines(failed.stderr).find((e) => e.event === 'run.error')?.msg).toMatch(/\| no space left/);
    expect(readFileSync(`${out}/my.cnf`, 'utf8')).toMatch(/^\[client\]\nuser="root"\nhost="127\.0\.0\.1"\nport=3306\n/);
    expect(readFileSync(`${out}/ping`, 'utf8').trim()).toBe('1');
    expect(await db().query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")).toEqual([]);
  });

  // MySQL ends a session idle for wait_timeout (berth sets 60 s), and the lock with it: a backup
  // that takes longer must not leave berth's session idle. Slow by nature: it outlasts that limit.
  it('a backup longer than the server\'s idle limit: the session and the lock survive it, and the migrations are applied', async () => {
    const fresh = await createMysqlDatabase(server!, 'slowbackup');
    try {
      const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);' });
      const up = await run(fresh, ['migrate', '--dir', dir, '--backup-command', 'sleep 65; echo slow-backup-done'], {});
      expect(up.code, up.stderr).toBe(0);
      expect(await fresh.query('SELECT version, backup FROM berth_migrations')).toEqual([{ version: '1', backup: 'slow-backup-done' }]);
    } finally {
      await fresh.drop();
    }
  }, 120_000);

  it('--backup-dir: mysqldump into <database>-<from>-to-<to>-<time>.sql, which restores the schema as it was; --backup-when no-transaction backs up (MySQL DDL cannot be rolled back)', async () => {
    const dir = writeMigrations({ '1_a.up.sql': "CREATE TABLE a (id INT PRIMARY KEY, label VARCHAR(20));\nINSERT INTO a VALUES (1, 'one');" });
    expect((await run(db(), ['migrate', '--dir', dir])).code).toBe(0);
    const before = await columns(db());
    writeFileSync(path.join(dir, '2_b.up.sql'), 'CREATE TABLE b (id INT);\nALTER TABLE a ADD COLUMN extra INT;');
    const folder = makeTempDir('berth-mysql-backups-');
    const up = await run(db(), ['migrate', '--dir', dir, '--backup-dir', folder, '--backup-when', 'no-transaction']);
    expect(up.code, up.stderr).toBe(0);
    expect(await columns(db())).not.toEqual(before);
    const files = readdirSync(folder);
    expect(files).toEqual([expect.stringMatching(new RegExp(`^${db().name}-1-to-2-\\d{8}T\\d{6}Z\\.sql$`))]);

    restored = await createMysqlDatabase(server!, 'restored');
    execFileSync('sh', ['-c', `mysql -h 127.0.0.1 -u root "${restored.name}" < "${path.join(folder, files[0]!)}"`]);
    expect(await columns(restored)).toEqual(before);
    expect(await restored.query('SELECT id, label FROM a')).toEqual([{ id: 1, label: 'one' }]);
    expect(await restored.query('SELECT version FROM berth_migrations')).toEqual([{ version: '1' }]);
    const status = await run(db(), ['status', '--dir', dir]);
    expect(status.stdout).toContain(`last backup: ${path.join(folder, files[0]!)}`);
  });
});

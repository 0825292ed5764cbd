/**
 * A read-only MariaDB (`--read-only`, as a replica is usually run) is refused with exit 6 before
 * anything is written, on a private server of this file's own: the shared one is never changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { jsonLines, runBerth, writeMigrations } from '../helpers/cli.js';
import { mysqlServer, startPrivateMariadb, type PrivateMariadb } from '../helpers/mysql.js';

const server = await mysqlServer();

describe.skipIf(!server?.mariadb)('a read-only MariaDB', () => {
  let privateServer: PrivateMariadb | undefined;
  let skipped: string | undefined;

  beforeAll(async () => {
    const started = await startPrivateMariadb({ args: ['--read-only=1'] });
    if (typeof started === 'string') {
      skipped = started;
      console.log(`read-only MariaDB test skipped: ${started}`);
      return;
    }
    privateServer = started;
    // root may still write (READ ONLY ADMIN): the database to migrate is created that way.
    const admin = await mysql.createConnection({ uri: started.url });
    await admin.query('CREATE DATABASE app');
    await admin.end();
  }, 90_000);

  afterAll(async () => {
    await privateServer?.stop();
  });

  it('is refused with exit 6, nothing written, also after --wait retries', async (context) => {
    if (skipped) context.skip();
    const dir = writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);\n' });
    const result = await runBerth(['migrate', '--dir', dir, '--log-format', 'json', '--wait', '1s'], { env: { DATABASE_URL: `${privateServer!.url}app` } });
    expect(result.code).toBe(6);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_DB_READ_ONLY' });
    const admin = await mysql.createConnection({ uri: `${privateServer!.url}app` });
    const [tables] = await admin.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app'");
    await admin.end();
    expect(tables).toEqual([]);
  });
});

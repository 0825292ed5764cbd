/**
 * What needs a MariaDB configured otherwise than the shared one, on private servers of this
 * file's own (the shared one is never changed): a read-only server (`--read-only`, as a replica
 * is usually run) and a running replica that accepts writes are refused with exit 6 before
 * anything is written; over TLS, --sslmode means
 * what it means for PostgreSQL, verify-full checking the host also when it is an IP address.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { jsonLines, makeTempDir, runBerth, writeMigrations } from '../helpers/cli.js';
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

/** A CA and a server certificate for DNS:localhost only, made with openssl; undefined without it. */
function makeCertificates(): { dir: string } | undefined {
  const dir = makeTempDir('berth-tls-');
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth-test-ca']);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    execFileSync('sh', ['-c', 'printf "subjectAltName=DNS:localhost\\n" > ext'], { cwd: dir });
    run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext']);
    return { dir };
  } catch {
    return undefined;
  }
}

describe.skipIf(!server?.mariadb)('a MariaDB that speaks TLS', () => {
  let privateServer: PrivateMariadb | undefined;
  let skipped: string | undefined;
  let ca = '';
  let port = '';

  beforeAll(async () => {
    const certs = makeCertificates();
    if (!certs) {
      skipped = 'openssl could not make test certificates';
      console.log(`TLS MariaDB test skipped: ${skipped}`);
      return;
    }
    ca = `${certs.dir}/ca.pem`;
    const started = await startPrivateMariadb({ args: [`--ssl-ca=${ca}`, `--ssl-cert=${certs.dir}/server.pem`, `--ssl-key=${certs.dir}/server.key`] });
    if (typeof started === 'string') {
      skipped = started;
      console.log(`TLS MariaDB test skipped: ${started}`);
      return;
    }
    privateServer = started;
    port = new URL(started.url).port;
    const admin = await mysql.createConnection({ uri: started.url });
    await admin.query('CREATE DATABASE app');
    await admin.end();
  }, 90_000);

  afterAll(async () => {
    await privateServer?.stop();
  });

  const wait = (url: string, args: string[] = []) => runBerth(['wait', '--log-format', 'json', ...args], { env: { DATABASE_URL: url } });

  it('require, verify-ca and verify-full connect where the certificate allows it', async (context) => {
    if (skipped) context.skip();
    expect((await wait(`mysql://root@localhost:${port}/app?sslmode=require`)).code).toBe(0);
    expect((await wait(`mysql://root@127.0.0.1:${port}/app?ssl-mode=VERIFY_CA&ssl-ca=${ca}`)).code).toBe(0);
    const full = await wait(`mysql://root@localhost:${port}/app`, ['--sslmode', 'verify-full', '--sslrootcert', ca]);
    expect(full.code, full.stderr).toBe(0);
  });

  it('verify-full refuses a certificate for another host, also for an IP address; verify-ca refuses an unknown CA (exit 6)', async (context) => {
    if (skipped) context.skip();
    const byAddress = await wait(`mysql://root@127.0.0.1:${port}/app?sslmode=verify-full&sslrootcert=${ca}`);
    expect(byAddress.code).toBe(6);
    const refused = jsonLines(byAddress.stderr).find((e) => e.event === 'run.error');
    expect(refused).toMatchObject({ code: 'ERR_DB_TLS' });
    expect(String(refused?.msg)).toContain("127.0.0.1 is not in the cert's list");
    const unknownCa = await wait(`mysql://root@localhost:${port}/app?sslmode=verify-ca`);
    expect(unknownCa.code).toBe(6);
    expect(jsonLines(unknownCa.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_DB_TLS' });
  });
});

describe.skipIf(!server?.mariadb)('a MariaDB replica', () => {
  const servers: PrivateMariadb[] = [];
  let skipped: string | undefined;
  let replica: PrivateMariadb | undefined;

  beforeAll(async () => {
    const [primary, second] = await Promise.all([
      startPrivateMariadb({ args: ['--server-id=1', '--log-bin=primary-bin'] }),
      startPrivateMariadb({ args: ['--server-id=2'] }),
    ]);
    for (const s of [primary, second]) if (typeof s !== 'string') servers.push(s);
    if (typeof primary === 'string' || typeof second === 'string') {
      skipped = [primary, second].find((s) => typeof s === 'string') as string;
      console.log(`MariaDB replica test skipped: ${skipped}`);
      return;
    }
    replica = second;
    const admin = await mysql.createConnection({ uri: primary.url });
    await admin.query('CREATE DATABASE app');
    await admin.end();
    // A replica is writable unless it is also made read-only: only its replication says what it is.
    const r = await mysql.createConnection({ uri: second.url });
    await r.query(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${Number(new URL(primary.url).port)}, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_USE_GTID = no`);
    await r.query('START SLAVE');
    for (let i = 0; i < 100; i++) {
      const [rows] = await r.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
      const [dbs] = await r.query<mysql.RowDataPacket[]>("SHOW DATABASES LIKE 'app'");
      if (rows[0]?.Slave_IO_Running === 'Yes' && dbs.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await r.end();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('is refused with exit 6, nothing written, though @@read_only is off', async (context) => {
    if (skipped) context.skip();
    const result = await runBerth(['migrate', '--dir', writeMigrations({ '1_a.up.sql': 'CREATE TABLE a (id INT);\n' }), '--log-format', 'json'], {
      env: { DATABASE_URL: `${replica!.url}app` },
    });
    expect(result.code).toBe(6);
    expect(jsonLines(result.stderr).find((e) => e.event === 'run.error')).toMatchObject({ code: 'ERR_DB_READ_ONLY' });
    const admin = await mysql.createConnection({ uri: `${replica!.url}app` });
    const [[ro]] = await admin.query<mysql.RowDataPacket[]>('SELECT @@read_only AS ro');
    const [tables] = await admin.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app'");
    await admin.end();
    expect(Number(ro!.ro)).toBe(0);
    expect(tables).toEqual([]);
  });
});

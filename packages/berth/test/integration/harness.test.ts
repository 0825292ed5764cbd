/**
 * Tests of the test harness itself (helpers/), against the server the global setup chose.
 * If these fail, fix the harness before reading any other integration failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv, cleanupProcesses, makeTempDir, runNode, spawnNode, writeMigrations } from '../helpers/cli.js';
import { pgAdminUrl, pgServer, testRunId } from '../helpers/context.js';
import { connect, createTestDatabase, query, useTestDatabase, withDatabase } from '../helpers/db.js';
import { resolvePgServer, testDatabaseComment } from '../helpers/pg-server.js';
import { reserveClosedPort, startDelayedProxy, type DelayedProxy } from '../helpers/tcp-proxy.js';

async function databaseExists(name: string): Promise<boolean> {
  const { rows } = await query(pgAdminUrl(), 'select 1 from pg_database where datname = $1', [name]);
  return rows.length === 1;
}

/** Resolves with the error code of a TCP connection attempt, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('global setup', () => {
  it('provides an admin URL that can create databases', async () => {
    expect(['env', 'local', 'embedded']).toContain(pgServer().source);
    const { rows } = await query<{ ok: boolean }>(
      pgAdminUrl(),
      'select rolsuper or rolcreatedb as ok from pg_roles where rolname = current_user',
    );
    expect(rows).toEqual([{ ok: true }]);
  });
});

describe('test databases', () => {
  it('two databases created concurrently are distinct, tagged with the run, and isolated', async () => {
    const [a, b] = await Promise.all([createTestDatabase('harness'), createTestDatabase('harness')]);
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.name).toMatch(/^berth_t_harness_[0-9a-f]{12}$/);
      expect(b.name).toMatch(/^berth_t_harness_[0-9a-f]{12}$/);

      expect((await a.admin.query('select current_database() as db')).rows).toEqual([{ db: a.name }]);
      expect((await query(b.url, 'select current_database() as db')).rows).toEqual([{ db: b.name }]);

      await a.admin.query('create table harness_probe (id int primary key)');
      await a.admin.query('insert into harness_probe values (1)');
      expect((await a.admin.query('select id from harness_probe')).rows).toEqual([{ id: 1 }]);
      expect((await b.admin.query(`select to_regclass('public.harness_probe') as t`)).rows).toEqual([{ t: null }]);

      const { rows } = await query(
        pgAdminUrl(),
        `select d.datname, s.description from pg_database d
           join pg_shdescription s on s.objoid = d.oid and s.classoid = 'pg_database'::regclass
          where d.datname = any($1) order by d.datname`,
        [[a.name, b.name]],
      );
      expect(rows).toEqual(
        [a.name, b.name].sort().map((datname) => ({ datname, description: testDatabaseComment(testRunId()) })),
      );
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });

  it('drop() removes the database even with open sessions, and is idempotent', async () => {
    const db = await createTestDatabase('drop');
    const tracked = await db.admin.connect();
    const untracked = await connect(db.url);
    await tracked.query('select pg_advisory_lock(42)');
    await untracked.query('begin');
    await untracked.query('create table t (id int)');
    expect(await databaseExists(db.name)).toBe(true);

    await db.drop();

    expect(await databaseExists(db.name)).toBe(false);
    await expect(query(db.url, 'select 1')).rejects.toMatchObject({ code: '3D000' });
    // The untracked session was terminated by WITH (FORCE).
    await expect(untracked.query('select 1')).rejects.toThrow();
    await untracked.end().catch(() => undefined);
    await expect(db.drop()).resolves.toBeUndefined();
  });

  let useSuiteName: string | undefined;
  describe('useTestDatabase()', () => {
    const db = useTestDatabase('use');
    it('has created the database when the tests of its suite run', async () => {
      useSuiteName = db().name;
      expect(await databaseExists(db().name)).toBe(true);
    });
  });

  it('useTestDatabase() dropped its database in afterAll of its suite', async () => {
    expect(useSuiteName).toMatch(/^berth_t_use_/);
    expect(await databaseExists(useSuiteName!)).toBe(false);
  });
});

describe('tcp proxy', () => {
  let proxy: DelayedProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('reserveClosedPort() returns a port that refuses connections', async () => {
    const port = await reserveClosedPort();
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
  });

  it('refuses connections before its delay and forwards to PostgreSQL after it', async () => {
    const target = new URL(pgAdminUrl());
    proxy = await startDelayedProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port || 5432),
      delayMs: 2_000,
    });
    expect(await tryConnect(proxy.port)).toBe('ECONNREFUSED');
    expect(proxy.connections).toBe(0);

    await proxy.listening;
    const viaProxy = new URL(pgAdminUrl());
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const { rows } = await query<{ port: number }>(viaProxy.toString(), `select current_setting('port')::int as port`);
    expect(rows).toEqual([{ port: Number(target.port || 5432) }]);
    expect(proxy.connections).toBe(1);

    await proxy.close();
    expect(await tryConnect(proxy.port)).toBe('ECONNREFUSED');
  });

  it('close() before the delay cancels the start', async () => {
    proxy = await startDelayedProxy({ targetPort: await reserveClosedPort(), delayMs: 60_000 });
    await proxy.close();
    await expect(proxy.listening).rejects.toThrow(/closed before/);
    expect(await tryConnect(proxy.port)).toBe('ECONNREFUSED');
  });
});

describe('process helpers (with node -e, until the CLI exists they stand in for berth.js)', () => {
  const printEnv = 'process.stdout.write(JSON.stringify(process.env))';

  it('children get a clean environment: no inherited DATABASE_URL, BERTH_* or PG*', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      DATABASE_URL: 'postgres://leak@127.0.0.1/leak',
      BERTH_DIR: '/leak',
      BERTH_DATABASE_URL_FILE: '/leak',
      PGHOST: 'leak',
      PGPASSWORD: 'leak',
    });
    try {
      const result = await runNode(['-e', printEnv], { env: { BERTH_WAIT: '5s', HOME: undefined } });
      expect(result.code).toBe(0);
      const env = JSON.parse(result.stdout) as Record<string, string>;
      expect(Object.keys(env).filter((k) => /^(DATABASE_URL|BERTH_|PG|VITEST)/.test(k))).toEqual(['BERTH_WAIT']);
      expect(env.BERTH_WAIT).toBe('5s');
      expect(env.HOME).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
    expect(childEnv().DATABASE_URL).toBeUndefined();
  });

  it('passes stdin input and reports the exit code and both streams', async () => {
    const script = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{console.log(s.toUpperCase());console.error('err');process.exitCode=3})`;
    const result = await runNode(['-e', script], { input: 'hello' });
    expect(result).toMatchObject({ code: 3, signal: null, stdout: 'HELLO\n', stderr: 'err\n', timedOut: false });
  });

  it('runs in an empty temp directory unless cwd is given', async () => {
    const result = await runNode(['-e', 'console.log(JSON.stringify([process.cwd(), require("fs").readdirSync(".")]))']);
    const [cwd, entries] = JSON.parse(result.stdout) as [string, string[]];
    expect(path.basename(cwd)).toMatch(/^berth-cwd-/);
    expect(entries).toEqual([]);
  });

  it('kills a child that exceeds timeoutMs and says so', async () => {
    const result = await runNode(['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 500 });
    expect(result).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
  });

  it('spawn: waits for output, then delivers a signal mid-run', async () => {
    const script = `process.on('SIGTERM',()=>{console.log('got SIGTERM');process.exit(143)});console.error('ready pid='+process.pid);setInterval(()=>{},1000)`;
    const child = spawnNode(['-e', script]);
    const match = await child.waitForOutput(/ready pid=(\d+)/, 10_000, 'stderr');
    expect(Number(match[1])).toBe(child.pid);
    expect(child.kill('SIGTERM')).toBe(true);
    const result = await child.exited;
    expect(result).toMatchObject({ code: 143, signal: null, stdout: 'got SIGTERM\n' });
    expect(child.kill('SIGTERM')).toBe(false);
  });

  it('spawn: waitForOutput rejects, showing the output, when the child exits without a match', async () => {
    const child = spawnNode(['-e', 'console.log("something else"); process.exit(2)']);
    await expect(child.waitForOutput(/never/, 10_000)).rejects.toThrow(/exited \(code 2[\s\S]*something else/);
  });

  it('writeMigrations() writes the given files, nested paths included', async () => {
    const dir = writeMigrations({
      '1_init.up.sql': 'create table a (id int);\n',
      'sub/2_b.up.sql': Buffer.from([0xef, 0xbb, 0xbf, 0x41]),
    });
    expect(readFileSync(path.join(dir, '1_init.up.sql'), 'utf8')).toBe('create table a (id int);\n');
    expect([...readFileSync(path.join(dir, 'sub/2_b.up.sql'))]).toEqual([0xef, 0xbb, 0xbf, 0x41]);
    expect(() => writeMigrations({ '../escape.sql': '' })).toThrow(/outside/);
  });

  it.runIf(process.getuid?.() === 0)('runs a child as another uid/gid, which can read writeMigrations() files', async () => {
    const dir = writeMigrations({ '1_a.up.sql': 'select 1;' });
    const script = `const fs=require('fs');console.log(JSON.stringify([process.getuid(),process.getgid(),fs.readFileSync(process.argv[1],'utf8'),fs.readdirSync('.')]))`;
    const result = await runNode(['-e', script, path.join(dir, '1_a.up.sql')], { uid: 54321, gid: 54321 });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([54321, 54321, 'select 1;', []]);
  });

  it('cleanupProcesses() (run after each file) kills leftover children and removes temp directories', async () => {
    const child = spawnNode(['-e', 'setInterval(() => {}, 1000)']);
    const dir = writeMigrations({ '1_a.up.sql': 'select 1;' });
    const other = makeTempDir('berth-harness-');
    await cleanupProcesses();
    expect(await child.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(other)).toBe(false);
  });
});

describe('embedded PostgreSQL fallback', () => {
  it('is started when the admin URL points at a closed port, answers, and leaves nothing behind', async () => {
    const closed = `postgres://postgres@127.0.0.1:${await reserveClosedPort()}/postgres`;
    const logs: string[] = [];
    const server = await resolvePgServer({ BERTH_TEST_PG_URL: closed }, (line) => logs.push(line));
    const embedded = server.embedded;
    try {
      expect(server.source).toBe('embedded');
      expect(logs.join('\n')).toMatch(/no usable PostgreSQL[\s\S]*embedded PostgreSQL .* started in \d+ ms/);
      const { rows } = await query<{ user: string; v: number }>(
        server.adminUrl,
        `select current_user as user, current_setting('server_version_num')::int as v`,
      );
      expect(rows).toEqual([{ user: 'postgres', v: expect.any(Number) }]);
      expect(embedded).toBeDefined();
      expect(existsSync(embedded!.dir)).toBe(true);
      expect(processExists(embedded!.pid)).toBe(true);
    } finally {
      await server.stop();
    }
    expect(processExists(embedded!.pid)).toBe(false);
    expect(existsSync(embedded!.dir)).toBe(false);
  });

  it('is not used when BERTH_TEST_PG_URL answers but rejects us: that is an error', async () => {
    const missingDb = withDatabase(pgAdminUrl(), 'berth_t_no_such_database');
    await expect(resolvePgServer({ BERTH_TEST_PG_URL: missingDb }, () => undefined)).rejects.toThrow(
      /BERTH_TEST_PG_URL=.* answered but cannot be used: 3D000/,
    );
  });
});

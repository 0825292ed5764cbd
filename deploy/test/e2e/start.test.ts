/**
 * `npm start`'s script (scripts/start.mjs), as a user runs it but without a terminal: start it, wait
 * for its ready line, create a user and an order with the URLs it prints, SIGINT it (what Ctrl-C
 * sends), and check that it exits 0 and leaves nothing behind: no process it started, no temp
 * directory, and (with BERTH_START_PG_URL) no database or role.
 *
 * Once against the harness's server (BERTH_START_PG_URL), once with its own embedded PostgreSQL,
 * which is what a fresh machine gets. Ports: any free ones (BERTH_START_*_PORT=0), so a developer's
 * own `npm start` on 8080/8081 does not get in the way.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT, spawnNode, type SpawnedProcess } from '../../../packages/berth/test/helpers/cli.js';
import { pgAdminUrl } from '../../../packages/berth/test/helpers/context.js';
import { query } from '../../../packages/berth/test/helpers/db.js';

const START = path.join(REPO_ROOT, 'scripts/start.mjs');
/** Embedded initdb + 6 migrators + 2 services on a busy 2-core machine (ms). */
const READY_TIMEOUT_MS = 90_000;

/** Every process below `pid` (children, their children, ...), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** Running (a zombie is dead: its parent, or init, has yet to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, body: await response.json() };
}

/** Starts the script, checks what it serves, SIGINTs it and checks what it leaves. Returns its output. */
async function startServeStop(env: Record<string, string>): Promise<string> {
  const start: SpawnedProcess = spawnNode([START], {
    cwd: REPO_ROOT,
    env: { BERTH_START_USERS_PORT: '0', BERTH_START_ORDERS_PORT: '0', ...env },
  });
  // If the test fails before the script cleaned up: what it created on the shared server goes too.
  onTestFinished(async () => {
    const suffix = /databases users_([0-9a-f]+), orders_/.exec(start.stdout)?.[1];
    if (!suffix || !env.BERTH_START_PG_URL) return;
    for (const db of ['users', 'orders']) {
      await query(pgAdminUrl(), `DROP DATABASE IF EXISTS ${db}_${suffix} WITH (FORCE)`);
      for (const role of ['owner', 'app']) await query(pgAdminUrl(), `DROP ROLE IF EXISTS ${db}_${role}_${suffix}`);
    }
  });
  await start.waitForOutput(/^Ready\. Press Ctrl-C to stop\.$/m, READY_TIMEOUT_MS, 'stdout');
  const users = /^ {2}users +(http:\/\/\S+)/m.exec(start.stdout)?.[1];
  const orders = /^ {2}orders +(http:\/\/\S+)/m.exec(start.stdout)?.[1];
  const tmp = /written to (\S+)\/secrets /.exec(start.stdout)?.[1];
  expect(users, start.stdout).toBeDefined();
  expect(orders, start.stdout).toBeDefined();
  expect(tmp && existsSync(tmp), start.stdout).toBe(true);
  // Three replicas per database, each exiting 0, one of them applying the migrations.
  expect(start.stdout).toMatch(/users-migrate: 3 replicas exited 0; 6 migration\(s\) applied by replica \d, schema at version 6/);
  expect(start.stdout).toMatch(/orders-migrate: 3 replicas exited 0; 2 migration\(s\) applied by replica \d, schema at version 2/);

  // The curl examples it prints.
  const user = await post(`${users}/users`, { username: 'ada', email: 'ada@example.com' });
  expect(user).toMatchObject({ status: 201, body: { id: 1 } });
  expect(await post(`${orders}/orders`, { userId: 1, item: 'book', quantity: 2 })).toMatchObject({ status: 201 });

  const started = descendants(start.pid);
  expect(started.length).toBeGreaterThanOrEqual(2);
  start.kill('SIGINT');
  const exit = await start.exited;
  expect(exit.code, `${exit.stdout}\n${exit.stderr}`).toBe(0);
  expect(exit.stdout).toMatch(/\[users\] +exited with 0/);
  expect(exit.stdout).toMatch(/\[orders\] +exited with 0/);
  expect(exit.stdout).toMatch(/\[stop\] +stopped$/m);
  expect(started.filter(alive).map((pid) => `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8')}`)).toEqual([]);
  expect(existsSync(tmp!)).toBe(false);
  await expect(fetch(`${users}/health`)).rejects.toThrow();
  return exit.stdout;
}

describe("npm start's script (scripts/start.mjs)", () => {
  it('on an existing server (BERTH_START_PG_URL): serves, stops on SIGINT, drops what it created', async () => {
    const output = await startServeStop({ BERTH_START_PG_URL: pgAdminUrl() });
    const databases = /databases (\w+), (\w+)$/m.exec(output)?.slice(1) ?? [];
    expect(databases).toHaveLength(2);
    const { rows } = await query(pgAdminUrl(), 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [databases]);
    expect(rows).toEqual([]);
    // users_owner_<suffix>, users_app_<suffix>, ...
    const patterns = databases.map((db) => db.replace(/_([0-9a-f]+)$/, '_%_$1'));
    const roles = await query(pgAdminUrl(), 'SELECT rolname FROM pg_roles WHERE rolname LIKE ANY($1)', [patterns]);
    expect(roles.rows).toEqual([]);
  });

  it('on a fresh machine: its own embedded PostgreSQL, stopped on SIGINT', async () => {
    const output = await startServeStop({});
    expect(output).toMatch(/\[postgres\] +PostgreSQL \S+ on 127\.0\.0\.1:\d+/);
    expect(output).toMatch(/\[postgres\] +stopped/);
  });
});

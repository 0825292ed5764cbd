/**
 * The driver conformance suite (SPEC §9), modelled on golang-migrate's database/testing: the same
 * tests for every driver, against its real server, through the Driver contract only. A new driver
 * passes it before anything else of it is reviewed. A driver that lacks a capability
 * (`capabilities`) skips exactly the tests that need it, and says so in the test's name.
 *
 * Each driver's test file calls `driverConformance` with how to reach a fresh database of its own
 * and the few statements whose spelling differs between dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionKeeper } from '../../src/core/connect.js';
import { lockKey } from '../../src/core/lock.js';
import { DriverQueryError, type Driver, type ErrorFamily, type HistoryTable, type NewHistoryRow, type ServerInfo } from '../../src/drivers/driver.js';
import { driverFor, parseDatabaseUrl } from '../../src/drivers/registry.js';

export interface ConformanceTarget {
  /** A URL of a database this suite may use freely (created for it). */
  readonly url: () => string;
  /** A statement that runs for about `seconds` on the server. */
  readonly sleep: (seconds: number) => string;
  /** Statements that fail with these families. */
  readonly failing: Partial<Record<ErrorFamily, string>>;
  /** Sets a session setting the next migration must not see, and reads it back (one value). */
  readonly setting: { readonly set: string; readonly read: string; readonly changed: string };
  /** Ends another session by its server id, as an operator (or a crash) would. */
  readonly kill: (pid: number) => string;
}

/** Fails a test that hangs (a lock that blocks instead of failing, a cancel that never lands) with a message, before vitest's own timeout. */
async function watchdog<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`deadlock watchdog: ${what} did not finish within ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

const WATCHDOG_MS = 15_000;

export function driverConformance(name: string, target: ConformanceTarget): void {
  describe(`driver conformance: ${name}`, () => {
    const keeper = sessionKeeper();
    const open: Driver[] = [];
    const table: HistoryTable = { schema: '', table: 'berth_conformance' };
    let capabilities: Driver['capabilities'];

    const servers = new Map<Driver, ServerInfo>();
    async function connect(): Promise<Driver> {
      const t = parseDatabaseUrl(target.url());
      const driver = await driverFor(t).create(t, { applicationName: 'berth-conformance', connectTimeoutMs: 10_000, keeper });
      open.push(driver);
      const server = await watchdog(driver.connect(), WATCHDOG_MS, 'connect');
      servers.set(driver, server);
      Object.assign(table, { schema: server.currentSchema ?? 'public' });
      return driver;
    }
    const row = (version: number, status: NewHistoryRow['status'] = 'applied'): NewHistoryRow => ({
      version, name: `m${version}`, checksum: `${'ab'.repeat(31)}${String(version).padStart(2, '0')}`.slice(0, 64), status,
      statementsApplied: status === 'applied' ? 2 : 0, statementsTotal: 2, durationMs: 7, host: 'conformance', berthVersion: 'test',
    });

    let a: Driver;
    beforeAll(async () => {
      a = await connect();
      capabilities = a.capabilities;
    });
    afterAll(async () => {
      await Promise.all(open.map((d) => d.close()));
      await keeper.closeAll();
    });

    it('connect says who and where berth is connected, and that it may write', async () => {
      const server = servers.get(a)!;
      expect(server.pid).toBeGreaterThan(0);
      expect(server.user.length).toBeGreaterThan(0);
      expect(server.database.length).toBeGreaterThan(0);
      expect(server.serverVersionNum).toBeGreaterThan(0);
      expect(server.readOnly).toBe(false);
      expect(server.currentSchema).toBeTruthy();
      expect(driverFor(parseDatabaseUrl(target.url())).capabilities).toEqual(capabilities);
    });

    it('the history round trip: created, written, read, summarised, updated, deleted', async () => {
      await watchdog((async () => {
        expect(await a.readHistory(table)).toBeNull();
        expect(await a.historySummary(table)).toBeNull();
        expect(await a.ensureHistoryTable(table)).toBe('created');
        expect(await a.ensureHistoryTable(table)).toBe('current'); // idempotent
        expect(await a.readHistory(table)).toEqual([]);
        expect(await a.writeHistory(table, { insert: row(1) }, null)).toBe(true);
        expect(await a.writeHistory(table, { insert: row(0) }, null)).toBe(true);
        const rows = await a.readHistory(table);
        expect(rows?.map((r) => [r.version, r.name, r.status, r.statementsApplied, r.statementsTotal, r.durationMs, r.host, r.berthVersion])).toEqual([
          [0, 'm0', 'applied', 2, 2, 7, 'conformance', 'test'],
          [1, 'm1', 'applied', 2, 2, 7, 'conformance', 'test'],
        ]);
        expect(rows?.[0]?.checksum).toBe(row(0).checksum);
        expect(rows?.[0]?.appliedAt).toBeInstanceOf(Date);
        const expected = [{ version: 0, checksum: row(0).checksum }, { version: 1, checksum: row(1).checksum }];
        expect(await a.historySummary(table, expected)).toEqual({ current: 1, unsettled: false, matches: true });
        expect((await a.historySummary(table, [expected[0]!]))?.matches).toBe(false);
        expect((await a.historySummary(table, [expected[0]!, { version: 1, checksum: 'other' }]))?.matches).toBe(false);
        expect(await a.writeHistory(table, { update: 1, set: { checksum: 'changed', durationMs: 9 } }, null)).toBe(true);
        expect((await a.readHistory(table))?.find((r) => r.version === 1)).toMatchObject({ checksum: 'changed', durationMs: 9 });
        expect(await a.writeHistory(table, { update: 42, set: { checksum: 'x' } }, null)).toBe(false);
        expect(await a.writeHistory(table, { delete: 1 }, null)).toBe(true);
        expect(await a.writeHistory(table, { delete: 1 }, null)).toBe(false);
        expect((await a.readHistory(table))?.map((r) => r.version)).toEqual([0]);
        expect(await a.writeHistory(table, { delete: 0 }, null)).toBe(true);
      })(), WATCHDOG_MS, 'the history round trip');
    });

    it('the release and the backup a row records are read back (null when not given)', async () => {
      await a.ensureHistoryTable(table);
      expect(await a.writeHistory(table, { insert: { ...row(7), release: 'v1.2.3', backup: '/backups/db-6-to-7.dump' } }, null)).toBe(true);
      expect(await a.writeHistory(table, { insert: row(8) }, null)).toBe(true);
      const rows = (await a.readHistory(table))?.filter((r) => r.version >= 7);
      expect(rows?.map((r) => [r.version, r.release, r.backup])).toEqual([[7, 'v1.2.3', '/backups/db-6-to-7.dump'], [8, null, null]]);
      expect(await a.writeHistory(table, { delete: 7 }, null)).toBe(true);
      expect(await a.writeHistory(table, { delete: 8 }, null)).toBe(true);
    });

    it('started and failed rows: how far a migration got, and an unsettled history', async () => {
      await a.ensureHistoryTable(table);
      expect(await a.writeHistory(table, { insert: row(5, 'started') }, null)).toBe(true);
      expect((await a.historySummary(table))).toMatchObject({ current: null, unsettled: true });
      expect(await a.writeHistory(table, { update: 5, set: { statementsApplied: 1 } }, null)).toBe(true);
      expect(await a.writeHistory(table, { update: 5, set: { status: 'failed', durationMs: 3 } }, null)).toBe(true);
      expect((await a.readHistory(table))?.find((r) => r.version === 5)).toMatchObject({ status: 'failed', statementsApplied: 1, statementsTotal: 2, durationMs: 3 });
      expect(await a.writeHistory(table, { delete: 5 }, null)).toBe(true);
      expect(await a.historySummary(table)).toEqual({ current: null, unsettled: false, matches: false });
    });

    // Where there is one session in this process (advisoryLocks false) nothing else can take a lock.
    const locking = (title: string, fn: () => Promise<void>) =>
      it(title, async (ctx) => {
        if (!capabilities.advisoryLocks) ctx.skip();
        await watchdog(fn(), WATCHDOG_MS, title);
      });

    locking('the lock excludes other sessions, never blocks, and is free again once released', async () => {
      const key = lockKey('conformance', { schema: 'any', table: 'exclusive' });
      const b = await connect();
      expect(await a.tryLock(key)).toBe(true);
      expect(await b.tryLock(key)).toBe(false);
      expect(await b.tryLock(key)).toBe(false);
      await a.unlock(key);
      expect(await b.tryLock(key)).toBe(true);
      expect(await a.tryLock(key)).toBe(false);
      await b.unlock(key);
    });

    locking('a history write is refused once this session no longer holds the lock', async () => {
      const key = lockKey('conformance', { schema: 'any', table: 'guarded' });
      const guard = { key };
      await a.ensureHistoryTable(table);
      expect(await a.tryLock(key)).toBe(true);
      expect(await a.writeHistory(table, { insert: row(7) }, guard)).toBe(true);
      expect(await a.beginMigration({ transaction: false }, guard)).toMatchObject({ lockHeld: true });
      await a.unlock(key);
      expect(await a.beginMigration({ transaction: false }, guard)).toMatchObject({ lockHeld: false });
      expect(await a.writeHistory(table, { update: 7, set: { durationMs: 1 } }, guard)).toBe(false);
      expect(await a.writeHistory(table, { delete: 7 }, guard)).toBe(false);
      expect(await a.writeHistory(table, { insert: row(8) }, guard)).toBe(false);
      expect((await a.readHistory(table))?.map((r) => r.version)).toEqual([7]);
      expect(await a.writeHistory(table, { delete: 7 }, null)).toBe(true);
    });

    locking('the lock is lost with its session: killed from outside, another session takes it', async () => {
      const key = lockKey('conformance', { schema: 'any', table: 'dies' });
      const holder = await connect();
      const { pid } = await holder.beginMigration({ transaction: false }, null);
      expect(await holder.tryLock(key)).toBe(true);
      const b = await connect();
      expect(await b.tryLock(key)).toBe(false);
      if (capabilities.multipleConnections) expect((await b.lockHolder(key))?.pid).toBe(pid);
      await b.execute(target.kill(pid));
      let taken = false;
      for (let i = 0; i < 50 && !taken; i++) {
        taken = await b.tryLock(key);
        if (!taken) await new Promise((r) => setTimeout(r, 100));
      }
      expect(taken).toBe(true);
      await expect(holder.execute('SELECT 1')).rejects.toThrow();
      await b.unlock(key);
    });

    it('cancel ends the running statement from a second connection, with the family `canceled`', async (ctx) => {
      if (!capabilities.multipleConnections) ctx.skip(); // nobody else can cancel an in-process statement
      const b = await connect();
      const outcome = b.execute(target.sleep(20)).then(() => undefined, (e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      await b.cancel();
      const error = await watchdog(outcome, WATCHDOG_MS, 'a cancelled statement');
      expect(error).toBeInstanceOf(DriverQueryError);
      expect((error as DriverQueryError).family).toBe('canceled');
      expect(await b.execute('SELECT 1')).toMatchObject({ rowCount: 1 });
    });

    it('server errors come back as DriverQueryError with their family, and the session stays usable', async () => {
      for (const [family, sql] of Object.entries(target.failing)) {
        const error = await a.execute(sql!).then(() => undefined, (e: unknown) => e);
        expect(error, sql).toBeInstanceOf(DriverQueryError);
        expect((error as DriverQueryError).family, sql).toBe(family);
        expect((error as DriverQueryError).info.message.length, sql).toBeGreaterThan(0);
      }
      expect(await a.execute('SELECT 1')).toMatchObject({ rowCount: 1 });
    });

    it('each migration starts from the session state berth set up, whatever the previous one changed', async () => {
      await a.beginMigration({ transaction: false }, null);
      const initial = Object.values((await a.execute(target.setting.read)).rows[0] ?? {})[0];
      await a.execute(target.setting.set);
      expect(Object.values((await a.execute(target.setting.read)).rows[0] ?? {})[0]).toBe(target.setting.changed);
      await a.beginMigration({ transaction: false }, null);
      expect(Object.values((await a.execute(target.setting.read)).rows[0] ?? {})[0]).toBe(initial);
    });

    it('a transaction rolled back leaves nothing; committed, its work stays', async (ctx) => {
      if (!capabilities.transactionalDdl) ctx.skip(); // DDL commits by itself there: the `failed` state covers it
      await a.beginMigration({ transaction: true }, null);
      await a.execute('CREATE TABLE conformance_rolled_back (id int)');
      await a.rollback();
      await a.beginMigration({ transaction: true }, null);
      await a.execute('CREATE TABLE conformance_kept (id int)');
      await a.commit();
      const inspected = await a.inspectTables([{ schema: table.schema, table: 'conformance_rolled_back' }, { schema: table.schema, table: 'conformance_kept' }], { rows: false });
      expect(inspected.map((t) => t.table)).toEqual(['conformance_kept']);
    });

    it('inspectTables reads columns (and rows when asked) of tables that may not be berth\'s', async () => {
      await a.ensureHistoryTable(table);
      const [found] = await a.inspectTables([table, { schema: table.schema, table: 'no_such_table' }], { rows: true });
      expect(found?.table).toBe(table.table);
      expect(found?.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['version', 'name', 'checksum', 'status']));
      expect(found?.rows).toEqual([]);
    });
  });
}

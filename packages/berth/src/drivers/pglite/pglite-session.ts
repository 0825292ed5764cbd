import type { SqlSession } from '../postgres/sql-session.js';
import type { PgliteTarget } from './url.js';
import { TargetRejectedError } from '../../errors.js';

/**
 * PGlite is PostgreSQL compiled to WASM, running inside this process with one session. It is
 * loaded only when a `pglite://` URL asks for it: it is large and most runs never need it.
 */
export async function openPgliteSession(target: PgliteTarget): Promise<SqlSession> {
  let PGlite: typeof import('@electric-sql/pglite').PGlite;
  try {
    ({ PGlite } = await import('@electric-sql/pglite'));
  } catch (err) {
    throw new TargetRejectedError('ERR_DB_UNSUPPORTED', 'pglite:// needs the @electric-sql/pglite package; install it next to berth', { cause: err });
  }
  const db = target.dataDir === null ? new PGlite() : new PGlite(target.dataDir);
  await db.waitReady;
  return {
    startupSent: false,
    announcedPid: null,
    async query(sql, params) {
      const res = await db.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as never[], rowCount: res.affectedRows ?? res.rows.length };
    },
    async simple(sql) {
      const results = await db.exec(sql);
      return (results[results.length - 1]?.rows ?? []) as never[];
    },
    // One session inside this process: there is nobody else to cancel from, and a statement
    // blocks the event loop only between awaits. Interrupts wait for the statement to end.
    async cancel() {},
    async end() {
      await db.close();
    },
  };
}

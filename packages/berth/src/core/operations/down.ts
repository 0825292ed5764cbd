import type { ApplyContext, Step } from '../apply.js';
import type { DownResult } from '../api.js';
import { missingDowns, plan, planDown, unknownVersion, type DownTarget } from '../plan.js';
import { failOnProblems, type Session } from '../session.js';
import { numbered } from './up.js';
import type { HistoryRow } from '../../drivers/driver.js';
import { ConfigError, ValidationError } from '../../errors.js';

/** `down`: reverts applied migrations newest first, each with its history row (SPEC §5). */
export async function down(session: Session, target: DownTarget): Promise<DownResult> {
  const migrations = await session.load();
  return session.withConnection(async (c, table) => {
    // Before the lock, whose taking creates the history table: an invalid set changes nothing.
    session.checkUnverified(migrations, (await c.driver.readHistory(table)) ?? []);
    return session.withLock(c, table, (ctx, history) => revert(ctx, history));
  });

  async function revert(ctx: ApplyContext, history: HistoryRow[]): Promise<DownResult> {
    session.checkUnverified(migrations, history);
    const p = plan({ migrations, history, allowOutOfOrder: true });
    failOnProblems(p);
    const unknown = 'to' in target ? unknownVersion('down', target.to, migrations, history) : undefined;
    if (unknown) throw new ConfigError('ERR_USAGE', unknown);
    const entries = planDown(p, target);
    // Every step is prepared (code loaded) before the first one runs, so a missing down refuses
    // the whole request with nothing changed.
    const missing = missingDowns(entries);
    const steps: Step[] = [];
    for (const { migration: m } of entries) {
      if (!m) continue;
      if (m.kind === 'code') {
        const mod = await session.loadCode(m);
        if (!mod.down) missing.push(`${m.version} (${m.up.fileName}) exports no down()`);
        else steps.push({ migration: m, direction: 'down', file: m.up.fileName, directives: { noTransaction: false }, body: { kind: 'code', fn: mod.down } });
      } else if (m.downSql) {
        const d = m.downSql;
        steps.push({ migration: m, direction: 'down', file: d.fileName, directives: d.directives, body: { kind: 'sql', sql: d.sql, statements: d.statements } });
      }
    }
    if (missing.length) {
      throw new ValidationError('ERR_DOWN_MISSING',
        `cannot roll back: ${missing.length} migration(s) in the requested range cannot be reverted, nothing was changed:\n${missing.map((x) => `  - ${x}`).join('\n')}`,
        { details: { missing } });
    }
    const reverted = await session.runEach(ctx, numbered(steps));
    const remaining = p.applied.map((a) => a.row.version).filter((v) => !reverted.some((r) => r.version === v));
    return { reverted, current: remaining.length ? Math.max(...remaining) : null };
  }
}

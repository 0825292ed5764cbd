#!/usr/bin/env node
// Deterministic generation of the benchmark workload: N small migrations
// (one table and one index each), written in each tool's own layout, every
// tool running byte-for-byte the same SQL per migration.
//
//   node bench/generate.mjs [--n 1000] [--out bench/.work/migrations-1000]
//
// Layout produced under <out>:
//   berth/0001_t0001.up.sql                         golang-migrate layout
//   dbmate/db/migrations/0001_t0001.sql             -- migrate:up / -- migrate:down
//   node-pg-migrate/migrations/0001_t0001.sql       -- Up Migration / -- Down Migration
//   postgrator/migrations/0001.do.t0001.sql         postgrator [version].do.[name].sql
//   psql/floor.sql                                  per migration: BEGIN; SQL; one history INSERT; COMMIT;
//   psql/noop.sql                                   what an up-to-date "migrate" must at least do: read the history
//   manifest.json                                   n, sha256 of the SQL workload and of every file
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Number of digits used for versions: at least 4, more if N needs it. */
export function width(n) {
  return Math.max(4, String(n).length);
}

/** The SQL of migration i (1-based). Identical for every tool. */
export function migrationSql(i, n) {
  const t = `bench_t${String(i).padStart(width(n), '0')}`;
  return (
    `CREATE TABLE ${t} (id bigint primary key, name text not null, created_at timestamptz not null default now());\n` +
    `CREATE INDEX ${t}_name_idx ON ${t} (name);\n`
  );
}

export const PSQL_HISTORY_TABLE = 'bench_history';

/**
 * Write the workload for `n` migrations into `outDir` (wiped first).
 * Returns the paths each tool needs plus the workload's sha256.
 */
export function generate({ n, outDir }) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  outDir = resolve(outDir);
  rmSync(outDir, { recursive: true, force: true });

  const paths = layout(outDir);
  for (const d of [paths.berth, paths.dbmate, paths.nodePgMigrate, paths.postgrator, dirname(paths.psqlFloor)]) {
    mkdirSync(d, { recursive: true });
  }

  const files = {};
  const write = (p, content) => {
    writeFileSync(p, content);
    files[p.slice(outDir.length + 1)] = createHash('sha256').update(content).digest('hex');
  };

  const workload = createHash('sha256');
  const floor = [
    `CREATE TABLE ${PSQL_HISTORY_TABLE} (version bigint primary key, applied_at timestamptz not null default now());\n`,
  ];
  const w = width(n);
  for (let i = 1; i <= n; i++) {
    const v = String(i).padStart(w, '0');
    const name = `t${v}`;
    const sql = migrationSql(i, n);
    workload.update(sql);

    write(join(paths.berth, `${v}_${name}.up.sql`), sql);
    write(join(paths.dbmate, `${v}_${name}.sql`), `-- migrate:up\n${sql}\n-- migrate:down\n`);
    write(join(paths.nodePgMigrate, `${v}_${name}.sql`), `-- Up Migration\n${sql}\n-- Down Migration\n`);
    write(join(paths.postgrator, `${v}.do.${name}.sql`), sql);
    floor.push(`BEGIN;\n${sql}INSERT INTO ${PSQL_HISTORY_TABLE} (version) VALUES (${i});\nCOMMIT;\n`);
  }
  write(paths.psqlFloor, floor.join(''));
  write(paths.psqlNoop, `SELECT coalesce(max(version), 0) FROM ${PSQL_HISTORY_TABLE};\n`);

  const sha256 = workload.digest('hex');
  const manifest = { n, sha256, files };
  writeFileSync(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { ...paths, n, sha256 };
}

/** Generate into `outDir` unless a manifest for the same n and workload is already there. */
export function ensureGenerated({ n, outDir }) {
  outDir = resolve(outDir);
  const mf = join(outDir, 'manifest.json');
  if (existsSync(mf)) {
    try {
      const m = JSON.parse(readFileSync(mf, 'utf8'));
      const expected = createHash('sha256');
      for (let i = 1; i <= n; i++) expected.update(migrationSql(i, n));
      if (m.n === n && m.sha256 === expected.digest('hex')) {
        const ok = Object.entries(m.files).every(([rel, h]) => {
          const p = join(outDir, rel);
          return existsSync(p) && createHash('sha256').update(readFileSync(p)).digest('hex') === h;
        });
        if (ok) return { ...layout(outDir), n, sha256: m.sha256 };
      }
    } catch {
      // fall through and regenerate
    }
  }
  return generate({ n, outDir });
}

/** Where each tool's files live under outDir. */
export function layout(outDir) {
  return {
    root: outDir,
    berth: join(outDir, 'berth'),
    dbmate: join(outDir, 'dbmate', 'db', 'migrations'),
    nodePgMigrate: join(outDir, 'node-pg-migrate', 'migrations'),
    postgrator: join(outDir, 'postgrator', 'migrations'),
    psqlFloor: join(outDir, 'psql', 'floor.sql'),
    psqlNoop: join(outDir, 'psql', 'noop.sql'),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const get = (flag, dflt) => {
    const i = args.indexOf(flag);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
  };
  const n = Number(get('--n', '1000'));
  const out = get('--out', join(here, '.work', `migrations-${n}`));
  const r = generate({ n, outDir: out });
  console.log(`generated ${r.n} migrations in ${r.root} (workload sha256 ${r.sha256})`);
}

import type { SettingKey } from '../../config/settings.js';
import type { CommandContext } from '../context.js';

export interface CommandOutcome {
  readonly exitCode: number;
  /** The summary line's message. */
  readonly summary?: string;
  /** Extra fields of the summary line (applied, current, pending, lockWaitMs...). */
  readonly fields?: Record<string, unknown>;
}

export type CommandRun = (ctx: CommandContext, opts: Record<string, unknown>, args: string[]) => Promise<CommandOutcome>;

export interface CommandSpec {
  readonly name: string;
  readonly usage: string;
  readonly description: string;
  readonly options: readonly { flags: string; description: string }[];
  readonly examples: readonly string[];
  /**
   * The common settings the command uses; its help lists only these. The other common flags are
   * still accepted (and ignored), so a wrapper that always passes `-d` keeps working. Default: all.
   */
  readonly settings?: readonly SettingKey[];
  /** Runs over a fleet with --targets / --targets-query (docs/fleets.md); its help lists the fleet flags. */
  readonly fleet?: boolean;
  /** Commands are imported only when run, so `--help` and the no-op path load little. */
  readonly load: () => Promise<CommandRun>;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'migrate',
    fleet: true,
    usage: 'migrate',
    description: 'apply pending migrations, each in its own transaction, under the migration lock',
    options: [
      { flags: '--to <version>', description: 'apply nothing above this version' },
      { flags: '--dry-run', description: 'print what would be applied and change nothing' },
      { flags: '--single-transaction', description: 'apply all pending migrations in one transaction' },
      { flags: '--allow-out-of-order', description: 'apply pending migrations older than the newest applied one' },
      { flags: '--lint <mode>', description: 'lint the pending migrations first: off, warn (print findings, continue) or error (stop on an error finding, exit 5) [env: BERTH_LINT] (default: warn)' },
      { flags: '--backup-command <command>', description: 'back up first: run this /bin/sh command under the lock, before any write; credentials only in files (BERTH_DATABASE_URL_FILE, PGPASSFILE with PGHOST...); its last stdout line is recorded as the location; a failure stops the run with exit 8, nothing written [env: BERTH_BACKUP_COMMAND]' },
      { flags: '--backup-dir <path>', description: 'back up first with the database\'s dump client (pg_dump --format=custom, mysqldump) into <database>-<from>-to-<to>-<time> in this folder; the client must be installed [env: BERTH_BACKUP_DIR]' },
      { flags: '--backup-when <when>', description: 'pending (only when something is applied), always (every run), no-transaction (only before a migration that cannot be rolled back: a no-transaction file, any MySQL migration) [env: BERTH_BACKUP_WHEN] (default: pending)' },
    ],
    examples: [
      'berth migrate -d postgres://owner@db:5432/app --wait 60s',
      'berth migrate --dir ./migrations --to 20260101120000 --dry-run',
      'berth migrate --lint error   # refuse to apply migrations that break zero-downtime deploys',
      'berth migrate --backup-dir /backups --backup-when no-transaction',
      "berth migrate --backup-command 'pg_dump -Fc | aws s3 cp - s3://bucket/$BERTH_RUN_ID.dump && echo s3://bucket/$BERTH_RUN_ID.dump'",
    ],
    load: async () => (await import('./migrate.js')).migrate,
  },
  {
    name: 'down',
    usage: 'down',
    description: 'roll back applied migrations newest first, each in a transaction with its history row',
    options: [
      { flags: '--steps <n>', description: 'roll back the newest n migrations' },
      { flags: '--to <version>', description: 'roll back every migration above this version (--to 0 keeps only a version 0)' },
      { flags: '--all', description: 'roll back every applied migration' },
    ],
    examples: ['berth down --steps 1', 'berth down --to 20260101120000'],
    load: async () => (await import('./down.js')).down,
  },
  {
    name: 'validate',
    fleet: true,
    usage: 'validate',
    description: 'check files against history: drift, missing files, failed migrations, out-of-order (exit 5)',
    options: [{ flags: '--allow-out-of-order', description: 'do not report pending migrations older than the newest applied one' }],
    examples: ['berth validate -d "$DATABASE_URL"'],
    load: async () => (await import('./validate.js')).validate,
  },
  {
    name: 'repair',
    usage: 'repair',
    description: 'rewrite stored checksums to match the files, printing each change',
    options: [],
    examples: ['berth validate || berth repair   # after checking the edit was harmless'],
    load: async () => (await import('./history-change.js')).repair,
  },
  {
    name: 'resolve',
    usage: 'resolve <version>',
    description: 'settle a failed no-transaction migration after inspecting the database',
    options: [
      { flags: '--applied', description: 'its effects are complete: mark it applied' },
      { flags: '--rolled-back', description: 'you undid what it did: remove its row so it runs again' },
    ],
    examples: ['berth resolve 20260101120000 --rolled-back', 'berth resolve 7 --applied'],
    load: async () => (await import('./history-change.js')).resolve,
  },
  {
    name: 'baseline',
    usage: 'baseline [<version>]',
    description: 'record every migration up to <version> as applied without running it, or adopt the history another tool recorded (--from)',
    options: [
      { flags: '--from <tool>', description: 'instead of a version: take over the state golang-migrate, dbmate or node-pg-migrate recorded, leaving its table as it is' },
      { flags: '--from-table <table>', description: 'that tool\'s history table, [<schema>.]<table>, when it is not the default (schema_migrations; pgmigrations for node-pg-migrate)' },
    ],
    examples: [
      'berth baseline 20260101120000',
      'berth baseline --from golang-migrate        # a database golang-migrate migrated: its version becomes berth\'s history',
      'berth baseline --from node-pg-migrate --from-table app.migrations',
    ],
    load: async () => (await import('./history-change.js')).baseline,
  },
  {
    name: 'status',
    fleet: true,
    usage: 'status',
    description: 'show applied, pending, failed, drifted and missing migrations',
    options: [{ flags: '--json', description: 'print one JSON object: { current, applied, pending, failed, drifted, missing, ahead, lastBackup }; each row with its release' }],
    examples: ['berth status', 'berth status --json | jq .current'],
    load: async () => (await import('./status.js')).status,
  },
  {
    name: 'check',
    fleet: true,
    usage: 'check',
    description: 'exit 0 if the schema is current (nothing pending, nothing failed or drifted), 5 otherwise',
    options: [{ flags: '--expect <version>', description: 'also require at least this version to be applied' }],
    examples: ['berth check --expect 20260101120000', 'berth check -d "$DATABASE_URL" && exec node server.js'],
    load: async () => (await import('./check.js')).check,
  },
  {
    name: 'await',
    fleet: true,
    usage: 'await',
    description: 'wait until the schema reaches a version (default: the newest migration in --dir), and with --release until that release has migrated; never migrates, needs only read access',
    options: [
      { flags: '--version <version>', description: 'the version to wait for (default: the newest file in --dir)' },
      { flags: '--timeout <duration>', description: 'give up with exit 3 after this long (default: 10m)' },
    ],
    examples: [
      'berth await --dir /app/migrations --timeout 10m   # init container of an app pod while a Job migrates',
      'berth await --version 20260101120000 --timeout 2m',
      'berth await --release "$IMAGE_TAG"   # the app waits for the migration Job of its own release',
    ],
    load: async () => (await import('./await.js')).awaitCommand,
  },
  {
    name: 'wait',
    usage: 'wait',
    description: 'only wait until the database accepts connections and is not a read-only standby',
    options: [],
    examples: ['berth wait --wait 60s', 'berth wait -d postgres://app@db/app --wait 2m && node server.js'],
    load: async () => (await import('./wait.js')).wait,
  },
  {
    name: 'new',
    usage: 'new <name...>',
    description: 'create the next version\'s empty up/down files in --dir (created if missing); needs no database',
    options: [{ flags: '--ts', description: 'write one TypeScript file exporting up(ctx) and down(ctx) instead of an SQL pair' }],
    examples: [
      'berth new add users table        # migrations/20260101120000_add_users_table.up.sql + .down.sql',
      'berth new backfill_emails --ts   # migrations/<version>_backfill_emails.ts',
      'berth new --dir db/migrations add_index   # in a folder of 0001_… files: 0002_add_index.up.sql + .down.sql',
    ],
    settings: ['dir', 'logFormat', 'quiet'],
    load: async () => (await import('./new.js')).newMigration,
  },
  {
    name: 'lint',
    usage: 'lint [paths...]',
    description: 'check SQL migrations for statements that break zero-downtime deploys (PostgreSQL parser; needs no database)',
    options: [
      { flags: '--format <format>', description: 'text, json, github (workflow annotations) or sarif (default: text)' },
      { flags: '--fail-on <severity>', description: 'exit 5 when a finding of this severity or worse remains: error, warning or none (default: error)' },
      { flags: '--no-cache', description: 'lint every file again instead of reusing the reports of unchanged files (cache folder: BERTH_LINT_CACHE, default ~/.cache/berth/lint; never required)' },
      { flags: '--pg-version <version>', description: 'the PostgreSQL version the migrations will run on, e.g. 16 or 14.3: rules whose truth depends on it judge for it (default: 14; migrate lints for the server it connects to)' },
    ],
    examples: [
      'berth lint                                 # every up migration in --dir (default ./migrations)',
      'berth lint migrations/20260101120000_add_email.up.sql --fail-on warning',
      'berth lint --format github                 # annotations on the pull request in GitHub Actions',
      'berth lint --format sarif > berth.sarif    # code scanning',
      'berth lint --pg-version 11                 # judge for an older server (e.g. ALTER TYPE ... ADD VALUE in a transaction)',
      'berth lint --schema-per-target             # files a schema-per-tenant fleet runs: also flag what reaches outside the tenant\'s schema',
    ],
    settings: ['dir', 'logFormat', 'quiet', 'schemaPerTarget'],
    load: async () => (await import('./lint.js')).lint,
  },
];

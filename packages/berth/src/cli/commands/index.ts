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
  /** Commands are imported only when run, so `--help` and the no-op path load little. */
  readonly load: () => Promise<CommandRun>;
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'migrate',
    usage: 'migrate',
    description: 'apply pending migrations, each in its own transaction, under the migration lock',
    options: [
      { flags: '--to <version>', description: 'apply nothing above this version' },
      { flags: '--dry-run', description: 'print what would be applied and change nothing' },
      { flags: '--single-transaction', description: 'apply all pending migrations in one transaction' },
      { flags: '--allow-out-of-order', description: 'apply pending migrations older than the newest applied one' },
    ],
    examples: [
      'berth migrate -d postgres://owner@db:5432/app --wait 60s',
      'berth migrate --dir ./migrations --to 20260101120000 --dry-run',
    ],
    load: async () => (await import('./migrate.js')).migrate,
  },
  {
    name: 'status',
    usage: 'status',
    description: 'show applied, pending, failed, drifted and missing migrations',
    options: [{ flags: '--json', description: 'print one JSON object: { current, applied, pending, failed, drifted, missing }' }],
    examples: ['berth status', 'berth status --json | jq .current'],
    load: async () => (await import('./status.js')).status,
  },
  {
    name: 'check',
    usage: 'check',
    description: 'exit 0 if the schema is current (nothing pending, nothing failed or drifted), 5 otherwise',
    options: [{ flags: '--expect <version>', description: 'also require at least this version to be applied' }],
    examples: ['berth check --expect 20260101120000', 'berth check -d "$DATABASE_URL" && exec node server.js'],
    load: async () => (await import('./check.js')).check,
  },
  {
    name: 'wait',
    usage: 'wait',
    description: 'only wait until the database accepts connections and is not a read-only standby',
    options: [],
    examples: ['berth wait --wait 60s', 'berth wait -d postgres://app@db/app --wait 2m && node server.js'],
    load: async () => (await import('./wait.js')).wait,
  },
];

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CONFIG_OPTION, SETTINGS } from '../config/settings.js';
import { BERTH_VERSION } from '../index.js';
import { COMMANDS, type CommandSpec } from './commands/index.js';
import { closestMatch } from '../text.js';

/**
 * The command line, parsed with Node's own `util.parseArgs`: every flag and its help line come
 * from the tables in commands/index.ts and config/settings.ts. (commander did this before; it was
 * ~120 kB of the CLI bundle and ~15 ms of every start, which every init container pays.)
 */
export type ParsedCommandLine =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string }
  /** `berth` alone: the usage, on stderr, and exit 2 (a container started without a command must not pass). */
  | { readonly kind: 'no-command'; readonly text: string }
  | { readonly kind: 'usage-error'; readonly message: string; readonly command?: string }
  | { readonly kind: 'run'; readonly spec: CommandSpec; readonly opts: Record<string, unknown>; readonly args: string[] };

interface Flag {
  readonly long: string;
  readonly short?: string;
  /** `<url>` for a flag that takes a value, undefined for a switch. */
  readonly value?: string;
  readonly flags: string;
  readonly description: string;
  readonly hidden: boolean;
}

const HELP_FLAG: Flag = { long: 'help', short: 'h', flags: '-h, --help', description: 'show this help', hidden: false };

export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '') return { kind: 'no-command', text: topHelp() };
  if (first === '-h' || first === '--help') return { kind: 'help', text: topHelp() };
  if (first === '-V' || first === '--version') return { kind: 'version', text: `${BERTH_VERSION}\n` };
  if (first === 'help') {
    if (rest[0] === undefined) return { kind: 'help', text: topHelp() };
    const spec = findCommand(rest[0]);
    return spec ? { kind: 'help', text: commandHelp(spec) } : unknownCommand(rest[0]);
  }
  const spec = findCommand(first);
  if (!spec) return first.startsWith('-') ? { kind: 'usage-error', message: `unknown option ${first} before the command (run berth --help)` } : unknownCommand(first);

  const flags = flagsOf(spec);
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const f of flags) options[f.long] = { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (err) {
    return { kind: 'usage-error', command: spec.name, message: `${describeParseError(err)} (run berth ${spec.name} --help)` };
  }
  if (parsed.values.help === true) return { kind: 'help', text: commandHelp(spec) };

  const { required, optional, variadic } = positionalsOf(spec);
  if (parsed.positionals.length < required.length) {
    return { kind: 'usage-error', command: spec.name, message: `${spec.name} needs ${required.map((p) => `<${p}>`).join(' ')} (usage: berth ${spec.usage}; run berth ${spec.name} --help)` };
  }
  if (!variadic && parsed.positionals.length > required.length + optional) {
    return { kind: 'usage-error', command: spec.name, message: `too many arguments for ${spec.name}: '${parsed.positionals[required.length + optional]}' (usage: berth ${spec.usage}; run berth ${spec.name} --help)` };
  }
  const opts: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed.values)) if (name !== 'help') opts[camelCase(name)] = value;
  return { kind: 'run', spec, opts, args: parsed.positionals };
}

export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return `Usage: berth <command> [options]

Database migrations built for containers: exactly once under any number of runners, waits for the
database, clear failure states.

Commands:
${COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.description}`).join('\n')}
  ${'help <command>'.padEnd(width)}  show a command's flags, environment variables and defaults

Common options (every command; each has an environment variable, and X_FILE for a file holding X):
${SETTINGS.filter((s) => !s.fleet).map((s) => `  ${s.flag.padEnd(32)} ${s.env.join(', ')}${s.defaultText ? ` (default: ${s.defaultText})` : ''}`).join('\n')}
  ${CONFIG_OPTION.flag.padEnd(32)} (default: ${CONFIG_OPTION.defaultText})
  ${'-V, --version'.padEnd(32)} print the version

Fleets (migrate, status, check, validate, await over many databases or schemas; docs/fleets.md):
${SETTINGS.filter((s) => s.fleet).map((s) => `  ${s.flag.padEnd(32)} ${s.env.join(', ')}${s.defaultText ? ` (default: ${s.defaultText})` : ''}`).join('\n')}

Exit codes: 0 ok, 1 migration failed, 2 usage/config, 3 database unreachable, 4 lock timeout,
5 validation (drift, missing, out-of-order, failed migration), 6 target rejected (auth, TLS, standby,
pooler), 7 outcome unknown (connection lost; rerun), 130/143 interrupted. Over a fleet: the most
severe over all targets, in this order: 70 2 5 6 1 143 130 7 4 3 0.

Settings: flags > environment (each variable X also as X_FILE) > config file > defaults. The config
file is berth.config.{json,yaml,yml,ts,js,mjs} in the working directory, or --config <file>; its keys
are the flags in camelCase. berth <command> --help lists every flag with its variable and default.

Examples:
  berth migrate -d postgres://app@db:5432/app --wait 60s
  DATABASE_URL_FILE=/run/secrets/db_url berth status --json
  berth migrate -d pglite://memory --dir ./migrations --dry-run
  berth migrate --config /etc/berth/berth.config.yaml
  berth new add_users_table
  berth migrate --targets tenants.yaml --parallel 8 --report report.json
`;
}

export function commandHelp(spec: CommandSpec): string {
  const shown = flagsOf(spec).filter((f) => !f.hidden);
  const width = Math.max(...shown.map((f) => f.flags.length));
  return `Usage: berth ${spec.usage} [options]

${spec.description}

Options:
${shown.map((f) => `  ${f.flags.padEnd(width)}  ${f.description}`).join('\n')}

Every variable X above also accepts X_FILE (a file holding the value, e.g. a mounted secret).
Precedence: flags > environment > config file > defaults.

Examples:
${spec.examples.map((e) => `  ${e}`).join('\n')}
`;
}

function flagsOf(spec: CommandSpec): Flag[] {
  const settings = SETTINGS.map((s) => flag(s.flag,
    `${s.description} [env: ${s.env.join(', ')}${s.secret ? ' or *_FILE' : ''}]${s.defaultText ? ` (default: ${s.defaultText})` : ''}`,
    // Accepted everywhere (a wrapper may always pass -d), listed only where it matters.
    spec.settings !== undefined ? !spec.settings.includes(s.key) : s.fleet === true && !spec.fleet));
  return [
    ...spec.options.map((o) => flag(o.flags, o.description, false)),
    ...settings,
    flag(CONFIG_OPTION.flag, `${CONFIG_OPTION.description} (default: ${CONFIG_OPTION.defaultText})`, false),
    HELP_FLAG,
  ];
}

function flag(flags: string, description: string, hidden: boolean): Flag {
  const match = /^(?:-(\w), )?--([a-z][a-z0-9-]*)(?: (<[^>]+>))?$/.exec(flags);
  if (!match) throw new Error(`malformed flag spec "${flags}"`);
  return { long: match[2]!, ...(match[1] ? { short: match[1] } : {}), ...(match[3] ? { value: match[3] } : {}), flags, description, hidden };
}

function positionalsOf(spec: CommandSpec): { required: string[]; optional: number; variadic: boolean } {
  const words = spec.usage.split(' ').slice(1);
  return {
    required: words.filter((w) => w.startsWith('<')).map((w) => w.replace(/[<>.]/g, '')),
    // `[<version>]`: one positional that may be left out.
    optional: words.filter((w) => /^\[<[^>.]+>\]$/.test(w)).length,
    variadic: words.some((w) => w.endsWith('...>') || w.endsWith('...]')),
  };
}

function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function unknownCommand(name: string): ParsedCommandLine {
  const near = closestMatch(name, COMMANDS.map((c) => c.name), 2);
  return { kind: 'usage-error', message: `unknown command '${name}'${near ? ` (did you mean ${near}?)` : ''}; run berth --help for the list` };
}

function describeParseError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // util.parseArgs explains at length how to pass a value starting with "-"; the first sentence says it.
  const first = message.split('. ')[0]!.replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

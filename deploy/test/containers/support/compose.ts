/**
 * A Compose project of the container tests: the project's own compose.yaml, the Engine 20.10
 * override, and the test's own overrides (each test says why it adds one), under a random project
 * name so that nothing of a running `berth-example` project is touched.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import YAML from 'yaml';
import { makeTempDir } from '../../../../packages/berth/test/helpers/cli.js';
import { COMPOSE_FILE, ENGINE_OVERRIDE } from './images.js';
import { must, repoPath, run, tail, type Result, type RunOptions } from './run.js';

export interface ContainerRow {
  readonly Name: string;
  readonly Service: string;
  readonly State: string;
  readonly Health: string;
  readonly ExitCode: number;
}

/** The engine environment; throws the global setup's error, so a failed setup fails every test file. */
export function engineEnv(): Record<string, string> {
  const context = inject('containers');
  if (context.error !== undefined) throw new Error(context.error);
  return context.env;
}

/** Set when containers cannot run here: the files `describe.skipIf` on it. */
export const skipReason = (): string | undefined => inject('containers').skip;

export class ComposeProject {
  readonly name: string;
  private readonly files: string[];

  constructor(label: string, overrides: string[] = []) {
    this.name = `berth-t-${label}-${randomBytes(3).toString('hex')}`;
    this.files = [COMPOSE_FILE, ENGINE_OVERRIDE, ...overrides];
  }

  /** Adds an override file made from `data` (written to a temp dir) to every later command. */
  override(data: unknown): string {
    const file = path.join(makeTempDir('berth-compose-override-'), 'compose.override.yaml');
    writeFileSync(file, YAML.stringify(data));
    this.files.push(file);
    return file;
  }

  /** The project as Compose reads it from the environment, for scripts that run `docker compose`. */
  composeEnv(): Record<string, string> {
    const env = engineEnv();
    return { ...env, COMPOSE: env.COMPOSE!, COMPOSE_FILE: this.files.join(':'), COMPOSE_PROJECT_NAME: this.name };
  }

  removeOverride(file: string): void {
    this.files.splice(this.files.indexOf(file), 1);
  }

  run(args: readonly string[], options: RunOptions = {}): Promise<Result> {
    const env = engineEnv();
    return run(env.COMPOSE!, ['-p', this.name, ...this.files.flatMap((f) => ['-f', f]), ...args], { ...options, env: { ...env, ...options.env } });
  }

  async must(args: readonly string[], options: RunOptions = {}): Promise<Result> {
    const result = await this.run(args, options);
    if (result.code !== 0) throw new Error(`compose ${args.join(' ')} exited ${result.code}:\n${tail(result, 40)}`);
    return result;
  }

  /** Every container of the project, running or not. */
  async ps(): Promise<ContainerRow[]> {
    const { stdout } = await this.must(['ps', '--all', '--format', 'json']);
    const text = stdout.trim();
    if (text === '') return [];
    return text.startsWith('[') ? JSON.parse(text) : text.split('\n').map((line) => JSON.parse(line));
  }

  /** `psql` in the postgres container as the superuser, over its socket: rows as tab-separated text. */
  async sql(database: string, query: string): Promise<string[][]> {
    const { stdout } = await this.must(['exec', '-T', 'postgres', 'psql', '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-AtF', '\t', '-c', query]);
    return stdout.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
  }

  /**
   * An HTTP request made from inside a container of `from` (its `node`): by Compose service name,
   * across the project's network, as the services call each other.
   */
  async request(from: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
    const script = `const body = process.argv[2];
fetch(process.argv[1], body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body } : {})
  .then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.json() })), (e) => { console.error(String(e.cause ?? e)); process.exit(1); });`;
    const args = ['exec', '-T', from, 'node', '-e', script, url, ...(body === undefined ? [] : [JSON.stringify(body)])];
    const { stdout } = await this.must(args);
    return JSON.parse(stdout.trim().split('\n').at(-1)!);
  }

  /** `docker inspect` of one container. */
  async inspect(container: string): Promise<any> {
    const env = engineEnv();
    const { stdout } = await must(env.DOCKER!, ['inspect', container], { env });
    return JSON.parse(stdout)[0];
  }

  /** What the engine still holds of this project: containers, volumes, networks. */
  async leftovers(): Promise<string[]> {
    const env = engineEnv();
    const label = `label=com.docker.compose.project=${this.name}`;
    const lists = await Promise.all([
      must(env.DOCKER!, ['ps', '-aq', '--filter', label], { env }),
      must(env.DOCKER!, ['volume', 'ls', '-q', '--filter', label], { env }),
      must(env.DOCKER!, ['network', 'ls', '-q', '--filter', label], { env }),
    ]);
    return lists.flatMap((r) => r.stdout.split('\n').filter(Boolean));
  }

  /** `down -v`, for afterAll: also after a failed test, and never throwing over the test's own error. */
  async down(): Promise<void> {
    if (skipReason() !== undefined || inject('containers').error !== undefined) return;
    await this.run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
  }
}

/** `sh deploy/compose/secrets/generate.sh`: the secret files compose.yaml mounts (kept when they exist). */
export async function generateSecrets(): Promise<void> {
  await must('sh', [repoPath('deploy/compose/secrets/generate.sh')]);
}

/** The up migrations of a service, by version. */
export function upVersions(files: readonly string[]): number[] {
  return files
    .map((file) => /^(\d+)_.*\.up\.sql$/.exec(file)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** A copy of a service's migrations plus `extra` files, readable by the migrator's UID (10001). */
export function migrationsWith(app: string, extra: Record<string, string>): string {
  const dir = makeTempDir(`berth-${app}-migrations-`, 0o755);
  cpSync(repoPath('services', app, 'migrations'), dir, { recursive: true });
  for (const [name, text] of Object.entries(extra)) writeFileSync(path.join(dir, name), text, { mode: 0o644 });
  return dir;
}

/** An override mounting `dir` at `target` instead of compose.yaml's migrations folder of `service`. */
export const migrationsOverride = (service: string, dir: string, target = '/migrations') => ({
  services: { [service]: { volumes: [{ type: 'bind', source: dir, target, read_only: true }] } },
});

/** A container's log (stdout and stderr). */
export async function logs(name: string): Promise<string> {
  const env = engineEnv();
  const { stdout, stderr } = await must(env.DOCKER!, ['logs', name], { env });
  return stdout + stderr;
}

/**
 * Global setup of the `containers` project: the engines, the base images and the project's images,
 * once for all its test files.
 *
 * 1. `deploy/containers/engine.sh check`: on a machine where containers cannot run (not root, too
 *    little free disk; exit 75) every container test is skipped, with one line saying why. Anything
 *    else that goes wrong from here (a missing engine, an engine that does not start, a base image
 *    or a project image that does not build) makes every container test file fail with the reason:
 *    it is never a skip.
 * 2. `engine.sh run` as a child whose standard input is a pipe from this process: it ends the
 *    engines when the pipe closes, i.e. at teardown, and also when vitest dies or is interrupted.
 * 3. `base-images.sh` (stand-ins for node:* and postgres:*), then the project's images: Compose's
 *    (`compose build`), the migrator targets and the names the Kubernetes manifests and the Helm
 *    chart use, and those loaded into podman for `kube play`.
 *
 * At teardown, images no build of this run produced or reused are removed (the engine's data is
 * kept between runs, so the next run is warm, without growing with every change).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import YAML from 'yaml';
import { buildPlan, PODMAN_IMAGES } from './images.js';
import { REPO_ROOT, must, repoPath, run, type Result } from './run.js';

export interface ContainersContext {
  /** Set when containers cannot run on this machine: the tests are skipped with this reason. */
  readonly skip?: string;
  /** Set when the engines or images could not be prepared: every test file fails with it. */
  readonly error?: string;
  /** The engine environment (DOCKER_HOST, DOCKER, COMPOSE, CONTAINERS_CONF, ...). */
  readonly env: Record<string, string>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    containers: ContainersContext;
  }
}

/** How long `engine.sh run` may take to say it is ready: it may wait for another run's lock (ms). */
const ENGINE_READY_TIMEOUT_MS = 16 * 60_000;
/** How long the engines may take to stop at teardown before their script gets SIGTERM (ms). */
const ENGINE_STOP_TIMEOUT_MS = 120_000;
const CANNOT_RUN = 75;
const LOG_DIR = repoPath('.tmp/containers');

function say(message: string): void {
  console.log(`containers: ${message}`);
}

async function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const value = await action();
  say(`${label} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  return value;
}

function startEngine(log: (chunk: string) => void): Promise<{ child: ChildProcess; envFile: string }> {
  const child = spawn('bash', [repoPath('deploy/containers/engine.sh'), 'run'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`engine.sh run did not get ready within ${ENGINE_READY_TIMEOUT_MS / 60_000} min:\n${output}`));
    }, ENGINE_READY_TIMEOUT_MS);
    const onData = (chunk: string) => {
      output += chunk;
      log(chunk);
      const ready = /^engine: ready (\S+)$/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve({ child, envFile: ready[1]! });
      } else if (/waiting for it/.test(chunk)) {
        say(chunk.trim());
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the container engines did not start (engine.sh exited ${code}):\n${output.trim()}`));
    });
  });
}

function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

/** Image IDs a classic-builder build used or made (`---> <id>` lines). */
function builtIds(result: Result): string[] {
  return [...`${result.stdout}\n${result.stderr}`.matchAll(/---> ([0-9a-f]{12})\b/g)].map((m) => m[1]!);
}

async function prepareImages(env: Record<string, string>, keep: Set<string>, log: (chunk: string) => void): Promise<void> {
  const options = { env, onOutput: log, timeoutMs: 20 * 60_000 };
  await timed('base images ready', () => must('bash', [repoPath('deploy/containers/base-images.sh')], options));
  const plan = buildPlan();
  await timed(`Compose images built (${plan.compose.join(', ')})`, async () => {
    const result = await must(env.COMPOSE!, [...plan.composeArgs, 'build'], options);
    for (const id of builtIds(result)) keep.add(id);
  });
  // The migrator targets, through Compose as well: it sends the build context its own way (file
  // metadata differs from the docker CLI's), and only the same context reuses the build cache of
  // the service images' shared stages.
  const migrators = `${LOG_DIR}/migrators.compose.yaml`;
  writeFileSync(
    migrators,
    YAML.stringify({
      name: 'berth-t-build',
      services: Object.fromEntries(
        plan.builds.map((b, i) => [`build-${i}`, { image: b.tag, build: { context: REPO_ROOT, dockerfile: b.dockerfile, target: b.target, ...(b.args ? { args: b.args } : {}) } }]),
      ),
    }),
  );
  await timed(`migrator images built (${plan.builds.map((b) => b.tag).join(', ')})`, async () => {
    const result = await must(env.COMPOSE!, ['-f', migrators, 'build'], options);
    for (const id of builtIds(result)) keep.add(id);
  });
  for (const [source, tag] of plan.tags) await must(env.DOCKER!, ['tag', source, tag], options);

  // podman has its own image store: copy what `kube play` runs, unless it has those exact images.
  const dockerIds = await Promise.all(PODMAN_IMAGES.map(async (image) => (await must(env.DOCKER!, ['image', 'inspect', '-f', '{{.Id}}', image], { env })).stdout.trim()));
  const podmanIds = await Promise.all(
    PODMAN_IMAGES.map(async (image) => (await run('podman', ['image', 'inspect', '-f', '{{.Id}}', image], { env })).stdout.trim()),
  );
  const bare = (id: string | undefined) => id?.replace(/^sha256:/, '');
  const stale = PODMAN_IMAGES.filter((_, i) => bare(podmanIds[i]) !== bare(dockerIds[i]));
  if (stale.length > 0) {
    await timed(`loaded into podman: ${stale.join(', ')}`, () =>
      must('bash', ['-o', 'pipefail', '-c', `"$DOCKER" save ${stale.map((s) => `'${s}'`).join(' ')} | podman load -q`], options),
    );
    await run('podman', ['image', 'prune', '-f'], { env });
  }
}

/** Removes dangling images that no build of this run produced or reused (old layers of old builds). */
async function pruneImages(env: Record<string, string>, keep: Set<string>): Promise<void> {
  const dangling = (await run(env.DOCKER!, ['images', '-q', '-f', 'dangling=true'], { env })).stdout.split('\n').filter(Boolean);
  const old = [...new Set(dangling)].filter((id) => !keep.has(id.slice(0, 12)));
  if (old.length > 0) await run(env.DOCKER!, ['rmi', ...old], { env });
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const check = await run('bash', [repoPath('deploy/containers/engine.sh'), 'check']);
  if (check.code === CANNOT_RUN) {
    const reason = check.stderr.trim().replace(/^engine\.sh: cannot run containers here: /, '');
    say(`skipped: ${reason}`);
    project.provide('containers', { skip: reason, env: {} });
    return undefined;
  }
  if (check.code !== 0) {
    project.provide('containers', { error: `deploy/containers/engine.sh check failed:\n${check.stderr.trim()}`, env: {} });
    return undefined;
  }

  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = `${LOG_DIR}/setup.log`;
  writeFileSync(logFile, '');
  const log = (chunk: string) => writeFileSync(logFile, chunk, { flag: 'a' });
  say(`starting the engines; build output in ${logFile}`);
  let engine: ChildProcess | undefined;
  let env: Record<string, string> = {};
  const keep = new Set<string>();
  let error: string | undefined;
  try {
    const started = await timed('engines running', () => startEngine(log));
    engine = started.child;
    env = readEnvFile(started.envFile);
    await prepareImages(env, keep, log);
    say('the base images are local stand-ins (Debian and glibc, also under Alpine tags): image sizes and musl behaviour differ from the official images');
  } catch (caught) {
    error = (caught as Error).message;
    say(`setup failed: ${error.split('\n')[0]}`);
  }
  project.provide('containers', { env, ...(error === undefined ? {} : { error }) });

  return async () => {
    if (engine === undefined) return;
    if (error === undefined) await pruneImages(env, keep).catch(() => undefined);
    const exited = new Promise<void>((resolve) => {
      if (engine!.exitCode !== null) return resolve();
      engine!.once('exit', () => resolve());
    });
    engine.stdin!.end();
    const timer = setTimeout(() => engine!.kill('SIGTERM'), ENGINE_STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    say('engines stopped');
  };
}

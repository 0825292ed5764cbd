/**
 * The Dockerfiles, without a Docker engine: lint (dockerfile-utils), then the rules that matter for
 * these images (multi-stage, pinned bases, non-root numeric USER, no secrets in ENV/ARG,
 * production dependencies only, exec-form entry points) and the build context: every COPY source
 * exists and survives .dockerignore, so `docker build` would find what it copies.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import dockerignoreModule from '@balena/dockerignore';
import { describe, expect, it } from 'vitest';
import { copyFrom, copyPaths, effective, effectiveUser, execForm, instructionsOf, parseDockerfile, targetStages, type ParsedDockerfile } from '../support/dockerfile.js';
import { isPinnedImage, listFiles, readRepoFile, repoPath } from '../support/files.js';

const DOCKERFILES = ['packages/berth/Dockerfile', 'services/users/Dockerfile', 'services/orders/Dockerfile'];
const SERVICES = ['users', 'orders'];

/** ENV/ARG names that must never carry a value baked into an image layer. */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|DATABASE_URL|_URL_WITH_AUTH)$/i;
/** A URL with a password in it: `scheme://user:password@host`. */
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;

// Docker's own .dockerignore semantics (the matcher dockerode uses). A CommonJS module whose types
// declare a default export: `.default` is the same function, and satisfies both.
const dockerignore = dockerignoreModule.default().add(readRepoFile('.dockerignore'));

/** Every COPY source (but a stage's) exists in the build context, the repository root after .dockerignore. */
function expectCopiesInContext(parsed: ParsedDockerfile): void {
  for (const stage of parsed.stages) {
    for (const copy of instructionsOf(stage, 'COPY')) {
      if (copyFrom(copy)) continue;
      for (const source of copyPaths(copy).sources) {
        const relative = source.replace(/\/$/, '');
        expect(existsSync(repoPath(relative)), `COPY ${source}: missing`).toBe(true);
        if (statSync(repoPath(relative)).isDirectory()) {
          const files = listFiles(relative, /./);
          const sent = files.filter((f) => !dockerignore.ignores(f));
          expect(sent.length, `COPY ${source}: .dockerignore leaves nothing`).toBeGreaterThan(0);
          // Sources and manifests must reach the build; tests never do.
          for (const f of files.filter((f) => /\/(src|migrations|bin)\//.test(`/${f}`) && !/\.test\.ts$|\/test\//.test(f))) {
            expect(dockerignore.ignores(f), `${f} is needed by the build but excluded by .dockerignore`).toBe(false);
          }
        } else {
          expect(dockerignore.ignores(relative), `COPY ${source}: excluded by .dockerignore`).toBe(false);
        }
      }
    }
  }
}

describe.each(DOCKERFILES)('%s', (file) => {
  const parsed: ParsedDockerfile = parseDockerfile(file);
  const targets = targetStages(parsed);

  it('passes the Dockerfile linter (dockerfile-utils, every check as an error)', () => {
    expect(parsed.lint.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('is a multi-stage build whose base images are pinned to a version', () => {
    expect(parsed.stages.length).toBeGreaterThanOrEqual(2);
    const stageNames = new Set(parsed.stages.map((s) => s.name).filter(Boolean));
    for (const stage of parsed.stages) {
      if (stageNames.has(stage.from)) continue; // FROM an earlier stage
      expect(isPinnedImage(stage.from), `FROM ${stage.from}`).toBe(true);
    }
    // Every Node.js base of every Dockerfile is the same release (one Node.js to patch and test).
    const nodeVersions = new Set(DOCKERFILES.flatMap((f) => parseDockerfile(f).stages.map((s) => /^node:(\d+\.\d+\.\d+)/.exec(s.from)?.[1]).filter(Boolean)));
    expect([...nodeVersions]).toHaveLength(1);
  });

  it('runs every target stage as a non-root numeric user', () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const stage of targets) {
      const user = effectiveUser(parsed, stage);
      // Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
      expect(user, `stage ${stage.name}`).toMatch(/^\d+(:\d+)?$/);
      expect(Number(user!.split(':')[0]), `stage ${stage.name}`).toBeGreaterThan(0);
    }
  });

  it('bakes no secret into ENV or ARG', () => {
    const properties = parsed.stages.flatMap((s) => [...instructionsOf(s, 'ENV'), ...instructionsOf(s, 'ARG')]);
    const all = [...properties.flatMap((i) => (i as unknown as import('dockerfile-ast').Env).getProperties()), ...Object.entries(parsed.globalArgs).map(([name, value]) => ({ getName: () => name, getValue: () => value }))];
    for (const property of all) {
      const name = property.getName();
      const value = property.getValue() ?? '';
      expect(SECRET_NAME.test(name) && !name.endsWith('_FILE'), `${name} looks like a secret: pass it at run time (a mounted file, *_FILE)`).toBe(false);
      expect(URL_WITH_PASSWORD.test(value), `${name} holds a URL with a password`).toBe(false);
    }
    // No build-time secret via RUN either: a literal password in a RUN line ends up in a layer.
    for (const run of parsed.stages.flatMap((s) => instructionsOf(s, 'RUN'))) {
      expect(URL_WITH_PASSWORD.test(run.getArgumentsContent() ?? ''), run.getArgumentsContent() ?? '').toBe(false);
    }
  });

  it('installs dependencies reproducibly, and only production ones for what it runs', () => {
    const runs = parsed.stages.flatMap((s) => instructionsOf(s, 'RUN').map((r) => ({ stage: s, text: r.getArgumentsContent() ?? '' })));
    for (const { text } of runs) {
      expect(text, 'npm install resolves versions anew; use npm ci (the lockfile)').not.toMatch(/\bnpm (install|i)\b/);
      expect(text).not.toMatch(/\bsudo\b/);
      expect(text, 'apt-get without --no-install-recommends pulls in extras').not.toMatch(/apt-get install(?![^&;]*--no-install-recommends)/);
    }
    expect(parsed.stages.flatMap((s) => instructionsOf(s, 'ADD')), 'ADD fetches URLs and unpacks archives; use COPY').toEqual([]);
    // A target stage gets node_modules only from a stage that installed with --omit=dev.
    for (const stage of targets) {
      for (const copy of instructionsOf(stage, 'COPY')) {
        const from = copyFrom(copy);
        if (!from || !copyPaths(copy).sources.some((s) => s.includes('node_modules'))) continue;
        const source = parsed.stages.find((s) => s.name === from)!;
        const installs = instructionsOf(source, 'RUN').map((r) => r.getArgumentsContent() ?? '').filter((t) => /npm ci/.test(t));
        expect(installs.length, `stage ${from}`).toBeGreaterThan(0);
        for (const install of installs) expect(install, `stage ${from}`).toContain('--omit=dev');
      }
    }
  });

  it('starts with an exec-form entry point, so the program is PID 1 and gets SIGTERM', () => {
    for (const stage of targets) {
      const cmd = effective(parsed, stage, 'CMD');
      const entrypoint = effective(parsed, stage, 'ENTRYPOINT');
      expect(cmd ?? entrypoint, `stage ${stage.name}`).not.toBeNull();
      for (const instruction of [cmd, entrypoint]) {
        if (instruction) expect(execForm(instruction), `${instruction.getKeyword()} of stage ${stage.name}`).not.toBeNull();
      }
    }
  });

  it('copies only what exists in the build context (the repository root after .dockerignore)', () => {
    expectCopiesInContext(parsed);
  });
});

describe('examples/tenants/Dockerfile: a migrator FROM the berth image', () => {
  const parsed = parseDockerfile('examples/tenants/Dockerfile');
  const stage = parsed.stages[0]!;

  it('passes the linter and starts FROM BERTH_IMAGE, whose default is a pinned berth image', () => {
    expect(parsed.lint.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    expect(parsed.stages.map((s) => [s.name, s.from])).toEqual([['migrator', 'berth:0.1.0']]);
    expect(isPinnedImage(stage.from)).toBe(true);
    expect(readRepoFile('packages/berth/Dockerfile')).toContain('-t berth:0.1.0 .');
  });

  it("keeps the berth image's non-root user and entry point, and runs migrate --dir /migrations", () => {
    expect(instructionsOf(stage, 'USER')).toEqual([]);
    expect(instructionsOf(stage, 'ENTRYPOINT')).toEqual([]);
    const berth = parseDockerfile('packages/berth/Dockerfile');
    expect(effectiveUser(berth, berth.stages.at(-1)!)).toMatch(/^[1-9]\d*:\d+$/);
    const cmd = execForm(effective(parsed, stage, 'CMD')!)!;
    expect(cmd.slice(0, 1)).toEqual(['migrate']);
    expect(cmd.slice(-2)).toEqual(['--dir', '/migrations']);
    expect(copyPaths(instructionsOf(stage, 'COPY')[0]!)).toEqual({ sources: ['examples/tenants/migrations'], destination: '/migrations' });
  });

  it('copies only what exists in the build context', () => {
    expectCopiesInContext(parsed);
  });
});

describe('.dockerignore', () => {
  it('keeps secrets, dependencies, build output and VCS data out of every build context', () => {
    for (const path of [
      'deploy/compose/secrets/users_owner_url',
      'deploy/compose/secrets/postgres_password',
      '.env',
      'services/users/.env',
      '.git/config',
      'node_modules/pg/package.json',
      'packages/berth/node_modules/x/index.js',
      'packages/berth/dist/cli.js',
      'services/users/dist/main.js',
      'packages/berth/test/unit/plan.test.ts',
      '.tmp/vitest.json',
      'bench/run.mjs',
    ]) {
      expect(dockerignore.ignores(path), path).toBe(true);
    }
  });
});

describe('the berth image', () => {
  const parsed = parseDockerfile('packages/berth/Dockerfile');
  const runtime = parsed.stages.at(-1)!;

  it('has berth as ENTRYPOINT, on PATH, and no HEALTHCHECK (a one-shot migrator)', () => {
    expect(execForm(effective(parsed, runtime, 'ENTRYPOINT')!)).toEqual(['berth']);
    expect(instructionsOf(runtime, 'RUN').map((r) => r.getArgumentsContent()).join('\n')).toMatch(/ln -s \/app\/bin\/berth\.js \/usr\/local\/bin\/berth/);
    expect(instructionsOf(runtime, 'HEALTHCHECK').map((h) => h.getArgumentsContent()?.trim())).toEqual(['NONE']);
    // The link target is what `npm run build -w berth` makes, and its shebang runs node.
    expect(readRepoFile('packages/berth/bin/berth.js').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('has a variant with the dump clients of --backup-dir (WITH_DB_CLIENTS=true), installed as root before USER; the default has none', () => {
    const instructions = runtime.instructions.map((i) => `${i.getKeyword()} ${i.getArgumentsContent() ?? ''}`);
    const install = instructions.findIndex((i) => /^RUN if \[ "\$WITH_DB_CLIENTS" = "true" \]/.test(i));
    expect(install).toBeGreaterThan(0);
    expect(instructions[install]).toMatch(/apk add --no-cache postgresql-client mariadb-client/);
    expect(instructions[install]).toMatch(/pg_dump --version && mysqldump --version/);
    expect(instructions.findIndex((i) => i === 'ARG WITH_DB_CLIENTS=false')).toBeLessThan(install);
    expect(instructions.findIndex((i) => i.startsWith('USER '))).toBeGreaterThan(install);
  });
});

describe.each(SERVICES)('the %s image', (service) => {
  const parsed = parseDockerfile(`services/${service}/Dockerfile`);
  const byName = (name: string) => parsed.stages.find((s) => s.name === name)!;

  it('runs `node dist/main.js` from /app, next to migrations/ and package.json', () => {
    const runtime = parsed.stages.at(-1)!;
    expect(runtime.name).toBe('service');
    expect(execForm(effective(parsed, runtime, 'CMD')!)).toEqual(['node', 'dist/main.js']);
    expect(instructionsOf(runtime, 'WORKDIR').map((w) => w.getArgumentsContent())).toEqual(['/app']);
    const copied = instructionsOf(runtime, 'COPY').map((c) => copyPaths(c).sources[0]);
    expect(copied).toEqual(expect.arrayContaining([`/src/services/${service}/dist/main.js`, `/src/services/${service}/migrations`, `/src/services/${service}/package.json`]));
    // dist/main.js is an ES module: Node reads "type" from the package.json copied next to it.
    expect(JSON.parse(readRepoFile(`services/${service}/package.json`)).type).toBe('module');
    // The bundle finds its migrations at ../migrations (the service's MIGRATIONS_DIR default).
    expect(readFileSync(repoPath('services/shared/build.mjs'), 'utf8')).toMatch(/outdir: 'dist'/);
  });

  it('has a `migrator` target: berth with the service migrations at /migrations', () => {
    const migrator = byName('migrator');
    expect(execForm(effective(parsed, migrator, 'ENTRYPOINT')!)).toEqual(['berth']);
    const copies = instructionsOf(migrator, 'COPY').map((c) => copyPaths(c));
    expect(copies).toContainEqual({ sources: [`/src/services/${service}/migrations`], destination: '/migrations' });
    expect(execForm(effective(parsed, migrator, 'CMD')!)).toEqual(['migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', '/migrations']);
  });
});

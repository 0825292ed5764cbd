/**
 * deploy/ci/github-actions.yml: parsed and validated by GitHub's own workflow parser
 * (@actions/workflow-parser, the schema and expression checks of the Actions service and its
 * VS Code extension), then the pipeline's promise: migrate is its own job after the tests, and
 * deploy runs only after it.
 */
import { NoOperationTraceWriter, convertWorkflowTemplate, parseWorkflow } from '@actions/workflow-parser';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../support/dockerfile.js';
import { readRepoFile, readYamlDocuments } from '../support/files.js';

const FILE = 'deploy/ci/github-actions.yml';
const workflow = readYamlDocuments(FILE)[0]!.data;
const jobs = workflow.jobs as Record<string, any>;
const runs = (job: string): string => (jobs[job].steps as { run?: string }[]).map((s) => s.run ?? '').join('\n');

/** `needs` of a job, transitively. */
function upstream(job: string): Set<string> {
  const out = new Set<string>();
  const visit = (j: string) => {
    for (const need of [jobs[j].needs ?? []].flat() as string[]) {
      if (!out.has(need)) {
        out.add(need);
        visit(need);
      }
    }
  };
  visit(job);
  return out;
}

describe(FILE, () => {
  it("passes GitHub's workflow parser: schema, expressions, job graph", async () => {
    const result = parseWorkflow({ name: FILE, content: readRepoFile(FILE) }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
    const template = await convertWorkflowTemplate(result.context, result.value!);
    expect(template.errors ?? []).toEqual([]);
    expect(template.jobs.map((j: any) => j.id.value)).toEqual(['test', 'images', 'migrate', 'deploy']);
  });

  it('lints and tests first', () => {
    expect(runs('test')).toContain('npm test');
    expect(runs('test')).toMatch(/berth(\.js)? lint /);
    expect(runs('test')).toContain('npm ci');
  });

  it('migrates as its own job, after the tests, with berth against the database from a secret', () => {
    expect([...upstream('migrate')]).toEqual(expect.arrayContaining(['test', 'images']));
    const script = runs('migrate');
    expect(script).toMatch(/migrate --wait 60s --lock-timeout 5m --dir \/migrations/);
    expect(script).toContain('DATABASE_URL_FILE=/run/secrets/database_url');
    expect(script).toContain('--read-only');
    // The URL comes from a secret into a file, never onto a command line or into the log.
    const env = jobs.migrate.steps.map((s: any) => s.env ?? {});
    expect(JSON.stringify(env)).toMatch(/\$\{\{ secrets\[/);
    expect(script).not.toMatch(/postgres:\/\//);
  });

  it('deploys only after migrate succeeded, without migrating again in the chart', () => {
    expect([...upstream('deploy')]).toContain('migrate');
    expect([jobs.deploy.needs].flat()).toEqual(['migrate']);
    expect(runs('deploy')).toContain('--set migrations.enabled=false');
    expect(runs('deploy')).toContain('deploy/helm/berth-example');
  });

  it('builds exactly the images and targets the Dockerfiles define, on the Node.js release of the Dockerfiles', () => {
    for (const entry of jobs.images.strategy.matrix.include as { dockerfile: string; target: string }[]) {
      const stages = parseDockerfile(entry.dockerfile).stages.map((s) => s.name);
      expect(stages, `${entry.dockerfile} --target ${entry.target}`).toContain(entry.target);
    }
    const nodeTag = parseDockerfile('packages/berth/Dockerfile').stages[0]!.from;
    expect(nodeTag).toContain(`node:${workflow.env.NODE_VERSION}-`);
    expect(jobs.test.services.postgres.image).toBe(readYamlDocuments('deploy/compose/compose.yaml')[0]!.data.services.postgres.image);
  });
});

/**
 * deploy/k8s against the Kubernetes API schemas (support/kubernetes.ts: kubernetes-models and
 * kubernetes-types), the restricted security profile, and what the patterns promise: Jobs that
 * fail fast on berth's non-retryable exit codes, migrators with the owner's Secret, services with
 * the app role's, probes on /health and /ready.
 */
import { describe, expect, it } from 'vitest';
import { isPinnedImage, listFiles, readYamlDocuments, type YamlDocument } from '../support/files.js';
import {
  NON_RETRYABLE_EXIT_CODES,
  RETRYABLE_EXIT_CODES,
  allContainers,
  envValue,
  podFailureAction,
  podSpec,
  restrictedProfileViolations,
  schemaErrors,
  secretMountedAt,
  strictFieldErrors,
} from '../support/kubernetes.js';

const FILES = listFiles('deploy/k8s', /\.ya?ml$/);
const DOCS: YamlDocument[] = FILES.flatMap((f) => readYamlDocuments(f));
const SERVICES = ['users', 'orders'];

const byKind = (kind: string, docs = DOCS) => docs.filter((d) => d.data.kind === kind);
const inFolder = (folder: string) => DOCS.filter((d) => d.file.startsWith(`deploy/k8s/${folder}/`));

describe('deploy/k8s manifests', () => {
  it('are the expected set of files and kinds', () => {
    expect(FILES).toEqual([
      'deploy/k8s/fleet/tenants-migrate.yaml',
      'deploy/k8s/init-container/orders.yaml',
      'deploy/k8s/init-container/users.yaml',
      'deploy/k8s/job/orders-migrate-monitoring.yaml',
      'deploy/k8s/job/orders-migrate.yaml',
      'deploy/k8s/job/orders.yaml',
      'deploy/k8s/job/users-migrate-monitoring.yaml',
      'deploy/k8s/job/users-migrate.yaml',
      'deploy/k8s/job/users.yaml',
      'deploy/k8s/secrets.example.yaml',
      'deploy/k8s/wait-for-schema/orders.yaml',
      'deploy/k8s/wait-for-schema/users.yaml',
    ]);
    expect(byKind('Job')).toHaveLength(3);
    expect(byKind('ConfigMap')).toHaveLength(1);
    expect(byKind('Deployment')).toHaveLength(6);
    expect(byKind('Service')).toHaveLength(8);
    expect(byKind('ServiceMonitor')).toHaveLength(2);
    expect(byKind('Secret')).toHaveLength(5);
  });

  it('validate against the Kubernetes JSON schemas (kubernetes-models)', () => {
    expect(schemaErrors(DOCS)).toEqual([]);
  });

  it('have no unknown or mistyped field (kubernetes-types, checked by the TypeScript compiler)', () => {
    expect(strictFieldErrors(DOCS)).toEqual([]);
  });

  it('the checks reject what they are there to reject', () => {
    const job = structuredClone(byKind('Job')[0]!);
    job.data.spec.backofLimit = 3; // misspelt
    job.data.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true; // wrong case
    expect(strictFieldErrors([job]).join('\n')).toMatch(/backofLimit|readOnlyRootFileSystem/);
    const bad = structuredClone(byKind('Job')[0]!);
    bad.data.spec.podFailurePolicy.rules[0].action = 'Fail';
    bad.data.spec.activeDeadlineSeconds = '900';
    expect(schemaErrors([bad]).join('\n')).toMatch(/action must be equal to one of the allowed values/);
    expect(schemaErrors([bad]).join('\n')).toMatch(/activeDeadlineSeconds must be integer/);
    // The ServiceMonitor's local CRD subset (support/monitoring-v1.ts) refuses the same way.
    const monitor = structuredClone(byKind('ServiceMonitor')[0]!);
    monitor.data.spec.endpoints[0].intervall = '15s';
    monitor.data.spec.endpoints[0].interval = 'every 15s';
    expect(schemaErrors([monitor]).join('\n')).toMatch(/\/spec\/endpoints\/0 must NOT have additional properties \(intervall\)/);
    expect(schemaErrors([monitor]).join('\n')).toMatch(/\/spec\/endpoints\/0\/interval must match pattern/);
    expect(strictFieldErrors([monitor]).join('\n')).toMatch(/intervall/);
  });

  it('run every pod under the restricted profile, with resource requests and limits', () => {
    expect(DOCS.flatMap(restrictedProfileViolations)).toEqual([]);
  });

  it('use pinned images only', () => {
    for (const doc of DOCS) {
      const pod = podSpec(doc);
      if (pod) for (const c of allContainers(pod)) expect(isPinnedImage(c.image), `${doc.file}: ${c.image}`).toBe(true);
    }
  });

  it('Secret templates hold placeholders only', () => {
    for (const secret of byKind('Secret')) {
      expect(secret.data.data, `${secret.file}: use stringData placeholders`).toBeUndefined();
      for (const value of Object.values<string>(secret.data.stringData)) expect(value).toContain('CHANGE_ME');
    }
  });

  it('every Secret a pod mounts has its template in secrets.example.yaml', () => {
    const templates = byKind('Secret').map((s) => s.data.metadata.name);
    for (const doc of DOCS) {
      for (const volume of podSpec(doc)?.volumes ?? []) {
        if (volume.secret) expect(templates, `${doc.file}: volume ${volume.name}`).toContain(volume.secret.secretName);
      }
    }
  });
});

describe.each(SERVICES)('the %s migration Job', (service) => {
  const job = byKind('Job').find((d) => d.data.metadata.name === `${service}-migrate`)!;
  const pod = podSpec(job)!;
  const migrate = pod.containers.find((c: any) => c.name === 'migrate');

  it('has a retry budget, a deadline and a time to live, and never restarts in place', () => {
    expect(job.data.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.data.spec.activeDeadlineSeconds).toBeGreaterThan(300); // more than --lock-timeout 5m
    expect(job.data.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(pod.restartPolicy).toBe('Never');
  });

  it("fails fast on berth's non-retryable exit codes and retries the others (podFailurePolicy)", () => {
    for (const code of NON_RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('FailJob');
    for (const code of RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('Count');
    // A bug in berth (70) does not go away on retry either.
    expect(podFailureAction(job.data, 'migrate', 70)).toBe('FailJob');
    // Evicted or preempted pods are retried without using up the budget.
    expect(job.data.spec.podFailurePolicy.rules).toContainEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
  });

  it('runs `berth migrate --wait 60s --dir /migrations` from the migrator image, as the owner role', () => {
    expect(migrate.image).toMatch(new RegExp(`/${service}-migrator:`));
    expect([...migrate.command, ...migrate.args]).toEqual(['berth', 'migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', '/migrations']);
    expect(envValue(migrate, 'DATABASE_URL_FILE')).toBe('/run/secrets/db/url');
    expect(secretMountedAt(pod, migrate, '/run/secrets/db/url')).toBe(`${service}-db-owner`);
  });

  it('serves live metrics on its `metrics` port, scraped by a ServiceMonitor through a Service that selects the pod', () => {
    expect(migrate.ports).toContainEqual({ name: 'metrics', containerPort: 9464 });
    expect(envValue(migrate, 'BERTH_HTTP')).toBe(':9464');
    expect(envValue(migrate, 'BERTH_LINGER')).toMatch(/^\d+s$/);
    expect(migrate.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    // An unready pod would leave the Service's endpoints, and the run would go unscraped.
    expect(migrate.readinessProbe).toBeUndefined();
    const monitoring = DOCS.filter((d) => d.file === `deploy/k8s/job/${service}-migrate-monitoring.yaml`);
    const svc = byKind('Service', monitoring)[0]!;
    const monitor = byKind('ServiceMonitor', monitoring)[0]!;
    const podLabels = job.data.spec.template.metadata.labels;
    for (const [key, value] of Object.entries<string>(svc.data.spec.selector)) expect(podLabels[key], key).toBe(value);
    expect(svc.data.spec.ports).toContainEqual({ name: 'metrics', port: 9464, targetPort: 'metrics' });
    for (const [key, value] of Object.entries<string>(monitor.data.spec.selector.matchLabels)) expect(svc.data.metadata.labels[key], key).toBe(value);
    // Not the app's Service: that one selects the api pods.
    expect(monitor.data.spec.selector.matchLabels['app.kubernetes.io/component']).toBe('migrate');
    const [endpoint] = monitor.data.spec.endpoints;
    expect(endpoint).toMatchObject({ port: 'metrics', path: '/metrics' });
    // The linger covers at least one scrape interval, so the final state is scraped.
    expect(Number.parseInt(envValue(migrate, 'BERTH_LINGER')!, 10)).toBeGreaterThanOrEqual(Number.parseInt(endpoint.interval, 10));
  });
});

describe('the fleet Indexed Job (deploy/k8s/fleet)', () => {
  const docs = inFolder('fleet');
  const job = byKind('Job', docs)[0]!;
  const pod = podSpec(job)!;
  const migrate = pod.containers.find((c: any) => c.name === 'migrate');

  it('is Indexed, with a retry budget per index, and tells each pod the count (BERTH_SHARDS = completions)', () => {
    expect(job.data.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimitPerIndex: 3 });
    expect(job.data.spec.backoffLimit).toBeUndefined();
    expect(envValue(migrate, 'BERTH_SHARDS')).toBe(String(job.data.spec.completions));
    expect(pod.restartPolicy).toBe('Never');
    expect(job.data.spec.activeDeadlineSeconds).toBeGreaterThan(300);
  });

  it("maps berth's exit codes: 2 and 70 fail the Job, 1, 5, 6, 8 fail the index, 3, 4, 7, 130, 143 retry it", () => {
    for (const code of [2, 70]) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('FailJob');
    for (const code of [1, 5, 6, 8]) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('FailIndex');
    for (const code of NON_RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code)).not.toBe('Count');
    for (const code of RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('Count');
    expect(job.data.spec.podFailurePolicy.rules).toContainEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
  });

  it('migrates the schemas listed in its ConfigMap, with the owner Secret, never a credential in the list', () => {
    expect([...migrate.command, ...migrate.args]).toEqual(['berth', 'migrate', '--targets', '/etc/berth/targets.yaml', '--schema-per-target', '--parallel', '8',
      '--wait', '60s', '--lock-timeout', '5m', '--dir', '/migrations']);
    expect(envValue(migrate, 'DATABASE_URL_FILE')).toBe('/run/secrets/db/url');
    expect(secretMountedAt(pod, migrate, '/run/secrets/db/url')).toBe('tenants-db-owner');
    const configMap = byKind('ConfigMap', docs)[0]!;
    const mount = migrate.volumeMounts.find((m: any) => m.mountPath === '/etc/berth');
    expect(pod.volumes.find((v: any) => v.name === mount.name).configMap.name).toBe(configMap.data.metadata.name);
    const list = configMap.data.data['targets.yaml'] as string;
    expect(list).toMatch(/^names:/);
    expect(list).not.toMatch(/:\/\/|password/i);
  });
});

describe.each(['job', 'init-container', 'wait-for-schema'])('the %s variant', (folder) => {
  const docs = inFolder(folder);

  it.each(SERVICES)('%s: probes /health and /ready, connects as the app role, is selected by its Service', (service) => {
    const deployment = byKind('Deployment', docs).find((d) => d.data.metadata.name === service)!;
    const pod = podSpec(deployment)!;
    const app = pod.containers.find((c: any) => c.name === service);
    expect(app.image).toMatch(new RegExp(`/${service}:`));
    expect(app.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(app.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(app.ports).toContainEqual({ name: 'http', containerPort: 8080 });
    expect(envValue(app, 'DATABASE_URL_FILE')).toBe('/run/secrets/db/url');
    expect(secretMountedAt(pod, app, '/run/secrets/db/url')).toBe(`${service}-db-app`);
    expect(envValue(app, 'MIGRATE_ON_START')).toBeUndefined();
    if (service === 'orders') expect(envValue(app, 'USERS_SERVICE_URL')).toBe('http://users:8080');
    // Rolling updates never go below the desired count: unready new pods keep old ones serving.
    expect(deployment.data.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);

    const svc = byKind('Service', docs).find((d) => d.data.metadata.name === service)!;
    for (const [key, value] of Object.entries(svc.data.spec.selector)) expect(pod && deployment.data.spec.template.metadata.labels[key]).toBe(value);
    expect(deployment.data.spec.selector.matchLabels).toEqual(svc.data.spec.selector);

    const init = pod.initContainers ?? [];
    if (folder === 'job') expect(init).toEqual([]);
    if (folder === 'init-container') {
      expect(init.map((c: any) => [...c.command, ...c.args])).toEqual([['berth', 'migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', '/migrations']]);
      expect(secretMountedAt(pod, init[0], '/run/secrets/db/url')).toBe(`${service}-db-owner`);
    }
    if (folder === 'wait-for-schema') {
      // Waits (berth await, read-only, as the app role); never migrates.
      expect(init.map((c: any) => [...c.command, ...c.args])).toEqual([['berth', 'await', '--timeout', '10m', '--wait', '60s', '--dir', '/migrations']]);
      expect(secretMountedAt(pod, init[0], '/run/secrets/db/url')).toBe(`${service}-db-app`);
    }
  });
});

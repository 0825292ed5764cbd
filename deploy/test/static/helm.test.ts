/**
 * deploy/helm/berth-example rendered as `helm template` would (support/helm.ts: Go's own
 * text/template, since no helm binary installs from npm or Debian), with the chart's values and
 * with the overrides deploy/README.md documents; the output validated against the Kubernetes schemas
 * like deploy/k8s, plus the hook annotations and the Jobs' podFailurePolicy.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isPinnedImage, readYamlDocuments, type YamlDocument } from '../support/files.js';
import { chartMetadata, defaultValues, renderChart, type Rendered } from '../support/helm.js';
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

const SERVICES = ['users', 'orders'];
/** `--set-file secrets.users.ownerUrl=...` and friends, as deploy/README.md shows for secrets.create. */
const CREATE_SECRETS = {
  secrets: {
    create: true,
    users: { ownerUrl: 'postgres://users_owner:s3cr"et@db:5432/users', appUrl: 'postgres://users_app:x@db:5432/users' },
    orders: { ownerUrl: 'postgres://orders_owner:y@db:5432/orders', appUrl: 'postgres://orders_app:z@db:5432/orders' },
  },
};
/** Scraped by the Prometheus Operator, as deploy/README.md and docs/observability.md show. */
const SERVICE_MONITOR = { migrations: { metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } } } };
const CI_DEPLOY = { migrations: { enabled: false }, images: { registry: 'ghcr.io/acme/berth-example', tag: '3f9c2a17e5b84d0c9a61f2e7b3d45c8a0e19b6f4' } };

const kind = (r: Rendered, k: string) => r.documents.filter((d) => d.data.kind === k);
const named = (r: Rendered, k: string, name: string) => kind(r, k).find((d) => d.data.metadata.name === name)!;

describe('the chart', () => {
  it('has Chart.yaml metadata Helm 3 needs, and values for images, secrets, resources and timeouts', () => {
    const chart = chartMetadata();
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'berth-example', type: 'application' });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(String(chart.appVersion)).toMatch(/^\d+\.\d+\.\d+$/);
    const values = defaultValues();
    expect(Object.keys(values)).toEqual(expect.arrayContaining(['images', 'migrations', 'secrets', 'services']));
    expect(values.migrations).toMatchObject({ enabled: true, wait: expect.any(String), lockTimeout: expect.any(String), activeDeadlineSeconds: expect.any(Number) });
    for (const service of SERVICES) expect(values.services[service].resources.limits).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
  });
});

describe.each([
  ['the default values', {}],
  ['secrets.create=true', CREATE_SECRETS],
  ['migrations.enabled=false (the CI deploy step)', CI_DEPLOY],
  ['migrations.metrics.serviceMonitor.enabled=true', SERVICE_MONITOR],
])('rendered with %s', (_label, overrides) => {
  let rendered: Rendered;
  beforeAll(async () => {
    rendered = await renderChart(overrides);
  });

  it('renders every value (no "<no value>") into manifests that validate against the Kubernetes schemas', () => {
    for (const [file, output] of Object.entries(rendered.outputs)) expect(output, file).not.toContain('<no value>');
    expect(rendered.documents.length).toBeGreaterThan(0);
    expect(schemaErrors(rendered.documents)).toEqual([]);
    expect(strictFieldErrors(rendered.documents)).toEqual([]);
  });

  it('runs every pod under the restricted profile with pinned images', () => {
    expect(rendered.documents.flatMap(restrictedProfileViolations)).toEqual([]);
    for (const doc of rendered.documents) {
      const pod = podSpec(doc);
      if (pod) for (const c of allContainers(pod)) expect(isPinnedImage(c.image), c.image).toBe(true);
    }
  });

  it('gives each service a Deployment with /health and /ready probes and the app role, and a Service', () => {
    for (const service of SERVICES) {
      const deployment = named(rendered, 'Deployment', `demo-${service}`);
      const pod = podSpec(deployment)!;
      const app = pod.containers[0];
      expect(app.livenessProbe.httpGet.path).toBe('/health');
      expect(app.readinessProbe.httpGet.path).toBe('/ready');
      const appSecret = secretMountedAt(pod, app, envValue(app, 'DATABASE_URL_FILE')!);
      expect(appSecret).toMatch(new RegExp(`${service}-db-app$`));
      expect(named(rendered, 'Service', `demo-${service}`).data.spec.selector).toEqual(deployment.data.spec.selector.matchLabels);
      if (service === 'orders') expect(envValue(app, 'USERS_SERVICE_URL')).toBe('http://demo-users:8080');
    }
  });
});

describe('the migration hook', () => {
  let rendered: Rendered;
  let withSecrets: Rendered;
  beforeAll(async () => {
    rendered = await renderChart();
    withSecrets = await renderChart(CREATE_SECRETS);
  });

  it('is one Job per service, annotated pre-install,pre-upgrade with a weight and before-hook-creation,hook-succeeded', () => {
    const jobs = kind(rendered, 'Job');
    expect(jobs.map((j) => j.data.metadata.name).sort()).toEqual(['demo-orders-migrate', 'demo-users-migrate']);
    for (const job of jobs) {
      const annotations = job.data.metadata.annotations;
      expect(annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(annotations['helm.sh/hook-weight']).toMatch(/^-?\d+$/);
      expect(annotations['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded');
    }
  });

  it("records the image's tag as the release of every history row the Job writes (BERTH_RELEASE)", () => {
    for (const job of kind(rendered, 'Job')) {
      const container = podSpec(job)!.containers[0];
      const release = container.env.find((e: { name: string }) => e.name === 'BERTH_RELEASE')?.value;
      expect(release).toBeTruthy();
      expect(container.image.endsWith(`:${release}`), container.image).toBe(true);
    }
  });

  it("fails fast on berth's non-retryable exit codes and retries the others, within the values' limits", () => {
    const values = defaultValues().migrations;
    for (const job of kind(rendered, 'Job')) {
      for (const code of NON_RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('FailJob');
      for (const code of RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code), `exit ${code}`).toBe('Count');
      expect(job.data.spec).toMatchObject({ backoffLimit: values.backoffLimit, activeDeadlineSeconds: values.activeDeadlineSeconds, ttlSecondsAfterFinished: values.ttlSecondsAfterFinished });
      expect(podSpec(job)!.restartPolicy).toBe('Never');
    }
  });

  it('runs `berth migrate` from the migrator image of the same tag, with the owner Secret', () => {
    for (const service of SERVICES) {
      const job = named(rendered, 'Job', `demo-${service}-migrate`);
      const pod = podSpec(job)!;
      const migrate = pod.containers.find((c: any) => c.name === 'migrate');
      expect([...migrate.command, ...migrate.args]).toEqual(['berth', 'migrate', '--wait', '60s', '--lock-timeout', '5m', '--dir', '/migrations']);
      // No tag set: both default to the chart's appVersion, so they always come from one build.
      const { registry } = defaultValues().images;
      const tag = chartMetadata().appVersion;
      expect(migrate.image).toBe(`${registry}/${service}-migrator:${tag}`);
      expect(named(rendered, 'Deployment', `demo-${service}`).data.spec.template.spec.containers[0].image).toBe(`${registry}/${service}:${tag}`);
      expect(secretMountedAt(pod, migrate, '/run/secrets/db/url')).toBe(`${service}-db-owner`);
    }
  });

  it('with secrets.create, the owner Secret is itself a hook that exists before the Job runs', () => {
    for (const service of SERVICES) {
      const owner = named(withSecrets, 'Secret', `demo-${service}-db-owner`);
      const job = named(withSecrets, 'Job', `demo-${service}-migrate`);
      expect(owner.data.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(Number(owner.data.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(Number(job.data.metadata.annotations['helm.sh/hook-weight']));
      expect(secretMountedAt(podSpec(job)!, podSpec(job)!.containers[0], '/run/secrets/db/url')).toBe(`demo-${service}-db-owner`);
      // The app role's Secret is an ordinary release resource.
      expect(named(withSecrets, 'Secret', `demo-${service}-db-app`).data.metadata.annotations).toBeUndefined();
    }
    expect(named(withSecrets, 'Secret', 'demo-users-db-owner').data.stringData.url).toBe(CREATE_SECRETS.secrets.users.ownerUrl);
  });

  it('is left out with migrations.enabled=false, and so is the owner Secret', async () => {
    const ci = await renderChart({ ...CI_DEPLOY, ...CREATE_SECRETS });
    expect(kind(ci, 'Job')).toEqual([]);
    expect(kind(ci, 'Secret').map((s) => s.data.metadata.name).sort()).toEqual(['demo-orders-db-app', 'demo-users-db-app']);
    expect(named(ci, 'Deployment', 'demo-users').data.spec.template.spec.containers[0].image).toBe('ghcr.io/acme/berth-example/users:3f9c2a17e5b84d0c9a61f2e7b3d45c8a0e19b6f4');
  });

  it('renders the same containers as the plain manifests in deploy/k8s/job (commands, env names, probes)', () => {
    const plain: YamlDocument[] = [...readYamlDocuments('deploy/k8s/job/users-migrate.yaml'), ...readYamlDocuments('deploy/k8s/job/orders.yaml')];
    const plainJob = podSpec(plain.find((d) => d.data.kind === 'Job')!)!.containers[0];
    const chartJob = podSpec(named(rendered, 'Job', 'demo-users-migrate'))!.containers[0];
    expect([...chartJob.command, ...chartJob.args]).toEqual([...plainJob.command, ...plainJob.args]);
    expect(chartJob.securityContext).toEqual(plainJob.securityContext);
    expect(chartJob.ports).toEqual(plainJob.ports);
    expect(chartJob.env).toEqual(plainJob.env);
    expect(chartJob.livenessProbe).toEqual(plainJob.livenessProbe);
    const plainApp = podSpec(plain.find((d) => d.data.kind === 'Deployment')!)!.containers[0];
    const chartApp = podSpec(named(rendered, 'Deployment', 'demo-orders'))!.containers[0];
    const names = (c: any) => c.env.map((e: { name: string }) => e.name).sort();
    expect(names(chartApp)).toEqual(names(plainApp));
    expect(chartApp.readinessProbe).toEqual(plainApp.readinessProbe);
    expect(chartApp.livenessProbe).toEqual(plainApp.livenessProbe);
  });
});

describe('the migration metrics', () => {
  it('by default: each Job serves --http on its `metrics` port with --linger, probed on /healthz, behind a headless hook Service; no ServiceMonitor', async () => {
    const rendered = await renderChart();
    const { metrics } = defaultValues().migrations;
    expect(kind(rendered, 'ServiceMonitor')).toEqual([]);
    for (const service of SERVICES) {
      const job = named(rendered, 'Job', `demo-${service}-migrate`);
      const migrate = podSpec(job)!.containers[0];
      expect(migrate.ports).toEqual([{ name: 'metrics', containerPort: metrics.port }]);
      expect(envValue(migrate, 'BERTH_HTTP')).toBe(`:${metrics.port}`);
      expect(envValue(migrate, 'BERTH_LINGER')).toBe(metrics.linger);
      expect(migrate.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(migrate.readinessProbe).toBeUndefined();
      const svc = named(rendered, 'Service', `demo-${service}-migrate-metrics`);
      expect(svc.data.spec.clusterIP).toBe('None');
      expect(svc.data.spec.ports).toEqual([{ name: 'metrics', port: metrics.port, targetPort: 'metrics' }]);
      for (const [key, value] of Object.entries<string>(svc.data.spec.selector)) expect(job.data.spec.template.metadata.labels[key], key).toBe(value);
      // It must exist before the pre-install Job runs: a hook of a lower weight.
      expect(svc.data.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(Number(svc.data.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(Number(job.data.metadata.annotations['helm.sh/hook-weight']));
    }
  });

  it('with serviceMonitor.enabled: a ServiceMonitor per Job selects its metrics Service, with the extra labels', async () => {
    const rendered = await renderChart(SERVICE_MONITOR);
    expect(schemaErrors(kind(rendered, 'ServiceMonitor'))).toEqual([]);
    for (const service of SERVICES) {
      const monitor = named(rendered, 'ServiceMonitor', `demo-${service}-migrate`);
      const svc = named(rendered, 'Service', `demo-${service}-migrate-metrics`);
      for (const [key, value] of Object.entries<string>(monitor.data.spec.selector.matchLabels)) expect(svc.data.metadata.labels[key], key).toBe(value);
      // Only this service's migrate Service matches, not the app's Service.
      expect(kind(rendered, 'Service').filter((s) => Object.entries<string>(monitor.data.spec.selector.matchLabels).every(([k, v]) => s.data.metadata.labels?.[k] === v))).toHaveLength(1);
      expect(monitor.data.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '5s' }]);
      expect(monitor.data.metadata.labels.release).toBe('kube-prometheus-stack');
    }
  });

  it('with metrics.enabled=false: no port, no --http, no probe, no Service', async () => {
    const rendered = await renderChart({ migrations: { metrics: { enabled: false, serviceMonitor: { enabled: true } } } });
    expect(kind(rendered, 'ServiceMonitor')).toEqual([]);
    expect(kind(rendered, 'Service').map((s) => s.data.metadata.name).sort()).toEqual(['demo-orders', 'demo-users']);
    const migrate = podSpec(named(rendered, 'Job', 'demo-users-migrate'))!.containers[0];
    expect(migrate.ports).toBeUndefined();
    expect(envValue(migrate, 'BERTH_HTTP')).toBeUndefined();
    expect(migrate.livenessProbe).toBeUndefined();
    expect(schemaErrors(rendered.documents)).toEqual([]);
  });
});

describe('the fleet Indexed Job (fleet.enabled=true)', () => {
  const FLEET = { fleet: { enabled: true, names: ['acme', 'globex'], shards: 6, parallelism: 3, perPod: 4 } };
  let rendered: Rendered;
  beforeAll(async () => {
    rendered = await renderChart(FLEET);
  });

  it('is left out by default', async () => {
    const plain = await renderChart({});
    expect(plain.documents.filter((d) => d.data.metadata.name.includes('tenants'))).toEqual([]);
  });

  it('renders a ConfigMap and an Indexed Job that validate like the other manifests, under the restricted profile', () => {
    const docs = rendered.documents.filter((d) => d.data.metadata.name.startsWith('demo-tenants-'));
    expect(docs.map((d) => d.data.kind).sort()).toEqual(['ConfigMap', 'Job']);
    for (const [file, output] of Object.entries(rendered.outputs)) expect(output, file).not.toContain('<no value>');
    expect(schemaErrors(docs)).toEqual([]);
    expect(strictFieldErrors(docs)).toEqual([]);
    expect(docs.flatMap(restrictedProfileViolations)).toEqual([]);
  });

  it('shards over the values: completions = BERTH_SHARDS, parallelism, --parallel, the names, the exit-code policy', () => {
    const job = named(rendered, 'Job', 'demo-tenants-migrate');
    const pod = podSpec(job)!;
    const migrate = pod.containers[0];
    expect(job.data.spec).toMatchObject({ completionMode: 'Indexed', completions: 6, parallelism: 3, backoffLimitPerIndex: 3 });
    expect(envValue(migrate, 'BERTH_SHARDS')).toBe('6');
    expect(migrate.args.slice(0, 6)).toEqual(['migrate', '--targets', '/etc/berth/targets.yaml', '--schema-per-target', '--parallel', '4']);
    expect(isPinnedImage(migrate.image)).toBe(true);
    expect(secretMountedAt(pod, migrate, '/run/secrets/db/url')).toBe('tenants-db-owner');
    for (const code of [2, 70]) expect(podFailureAction(job.data, 'migrate', code)).toBe('FailJob');
    for (const code of [1, 5, 6, 8]) expect(podFailureAction(job.data, 'migrate', code)).toBe('FailIndex');
    for (const code of RETRYABLE_EXIT_CODES) expect(podFailureAction(job.data, 'migrate', code)).toBe('Count');
    const configMap = named(rendered, 'ConfigMap', 'demo-tenants-targets');
    expect(configMap.data.data['targets.yaml']).toBe('names:\n  - "acme"\n  - "globex"\n');
    // The list exists before the Job that reads it.
    expect(Number(configMap.data.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(Number(job.data.metadata.annotations['helm.sh/hook-weight']));
  });
});

/**
 * Kubernetes manifests on podman 4.3 (`podman kube play`), the nearest this machine has to a
 * cluster (kind, k3s and minikube all need images from a registry). podman plays Pods and
 * Deployments (one pod per replica), and lacks a few things a cluster has; `forPodman` rewrites a
 * copy of the manifests for exactly those, at test time, and never the files in deploy/:
 *
 * 1. Services are dropped (podman ignores them); the names they give are host aliases instead (6).
 * 2. A Job becomes a bare Pod of its template (podman refuses Jobs). An Indexed Job becomes its
 *    `completions` pods at once, `<job>-<index>`, each with JOB_COMPLETION_INDEX set in every
 *    container and the pod's hostname `<job>-<index>`, as Kubernetes sets them. What a Job adds
 *    (parallelism, backoffLimit[PerIndex], podFailurePolicy, activeDeadlineSeconds) is not
 *    exercised here.
 * 3. `secret` and `configMap` volumes become hostPath folders holding the keys as files (podman 4.3
 *    crashes on secret volumes), written as the kubelet writes them: mode `defaultMode`, group the
 *    pod's `fsGroup`. So a UID the manifest does not give read access still cannot read them. The
 *    ConfigMaps come from the same documents and are not played themselves.
 * 4. A Deployment's pods get `restartPolicy: OnFailure`: podman gives init containers the pod's
 *    policy, and with `Always` an init container that exited 0 would run again and again.
 * 5. `ports` are dropped: podman publishes every containerPort on the host, where replicas collide
 *    and where nothing of the tests should listen. The tests reach the pods from inside.
 * 6. `hostAliases` for the Service names the pods use (postgres, users, <release>-users), pointing
 *    at a pod of that service, as a Service's cluster IP would.
 * 7. Probes are dropped: without systemd podman 4.3 never runs them. The tests ask /health and
 *    /ready themselves.
 * 8. `BERTH_LINGER` is dropped: it keeps a migration Job's --http serving for a Prometheus scrape
 *    after the run, and nothing scrapes here; it would only delay each Job's end by that long.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { makeTempDir } from '../../../../packages/berth/test/helpers/cli.js';
import { engineEnv } from './compose.js';
import { must, run, type Result } from './run.js';

type Data = Readonly<Record<string, string>>;

export interface PodmanOptions {
  /** Secret name -> its data (key -> value), e.g. users-db-owner -> { url: 'postgres://...' }. */
  readonly secrets: Readonly<Record<string, Data>>;
  /** Service name -> pod IP. */
  readonly hosts: Readonly<Record<string, string>>;
}

/** A folder with one file per key of a Secret or ConfigMap, as the kubelet mounts its volume. */
function keyFolder(name: string, data: Data, mode: number, group: number): string {
  const dir = path.join(makeTempDir('berth-kube-volume-'), name);
  mkdirSync(dir, { mode: 0o755 });
  for (const [key, value] of Object.entries(data)) {
    const file = path.join(dir, key);
    writeFileSync(file, value);
    chownSync(file, 0, group);
    chmodSync(file, mode);
  }
  return dir;
}

function podTemplate(doc: any): any {
  const spec = doc.spec.template.spec;
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  for (const container of containers) {
    delete container.ports;
    delete container.startupProbe;
    delete container.livenessProbe;
    delete container.readinessProbe;
    if (container.env) container.env = container.env.filter((e: { name: string }) => e.name !== 'BERTH_LINGER');
  }
  return spec;
}

/** The pods of a Job: one, or one per index of an Indexed Job. */
function jobPods(job: any, spec: any): any[] {
  const labels = job.spec.template.metadata?.labels;
  if (job.spec.completionMode !== 'Indexed') return [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: job.metadata.name, labels }, spec }];
  return Array.from({ length: job.spec.completions ?? 1 }, (_, index) => {
    const pod = structuredClone(spec);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      container.env = [{ name: 'JOB_COMPLETION_INDEX', value: String(index) }, ...(container.env ?? [])];
    }
    const name = `${job.metadata.name}-${index}`;
    pod.hostname = name;
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels, annotations: { 'batch.kubernetes.io/job-completion-index': String(index) } }, spec: pod };
  });
}

export function forPodman(docs: readonly any[], options: PodmanOptions): any[] {
  const configMaps = new Map<string, Data>(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d.data ?? {}]));
  const out: any[] = [];
  for (const source of docs) {
    if (source.kind === 'Service' || source.kind === 'ConfigMap') continue;
    if (!['Deployment', 'Job'].includes(source.kind)) throw new Error(`forPodman: no rewrite for ${source.kind} ${source.metadata?.name}`);
    const doc = structuredClone(source);
    const spec = podTemplate(doc);
    const fsGroup = spec.securityContext?.fsGroup ?? 0;
    for (const volume of spec.volumes ?? []) {
      const [kind, name, data] = volume.secret
        ? ['Secret', volume.secret.secretName, options.secrets[volume.secret.secretName]]
        : volume.configMap ? ['ConfigMap', volume.configMap.name, configMaps.get(volume.configMap.name)] : [];
      if (!kind) continue;
      if (!data) throw new Error(`forPodman: no data for ${kind} ${name}`);
      volume.hostPath = { path: keyFolder(name, data, (volume.secret ?? volume.configMap).defaultMode ?? 0o644, fsGroup), type: 'Directory' };
      delete volume.secret;
      delete volume.configMap;
    }
    spec.hostAliases = Object.entries(options.hosts).map(([hostname, ip]) => ({ ip, hostnames: [hostname] }));
    if (doc.kind === 'Job') {
      out.push(...jobPods(doc, spec));
    } else {
      spec.restartPolicy = 'OnFailure';
      out.push(doc);
    }
  }
  return out;
}

export function podman(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<Result> {
  const env = engineEnv();
  return run('podman', args, { env, ...options });
}

export async function podmanMust(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<Result> {
  const env = engineEnv();
  return must('podman', args, { env, ...options });
}

/** Writes the documents to a file and plays them; resolves when `kube play` returns. */
export async function play(docs: readonly any[]): Promise<Result> {
  const file = path.join(makeTempDir('berth-kube-'), 'play.yaml');
  writeFileSync(file, docs.map((d) => YAML.stringify(d)).join('---\n'));
  return podmanMust(['kube', 'play', file], { timeoutMs: 300_000 });
}

/** The IP of a pod on podman's kube network. */
export async function podIp(pod: string): Promise<string> {
  const infra = (await podmanMust(['pod', 'inspect', '-f', '{{.InfraContainerID}}', pod])).stdout.trim();
  const networks = JSON.parse((await podmanMust(['inspect', '-f', '{{json .NetworkSettings.Networks}}', infra])).stdout) as Record<string, { IPAddress: string }>;
  const ip = Object.values(networks)[0]?.IPAddress;
  if (!ip) throw new Error(`pod ${pod} has no IP address`);
  return ip;
}

export interface PodmanEvent {
  readonly name: string;
  readonly status: string;
  readonly time: number;
  readonly exitCode: number;
}

/** Container events (create, start, died, remove...) since `since` (ms), oldest first. */
export async function containerEvents(since: number): Promise<PodmanEvent[]> {
  const { stdout } = await podmanMust(['events', '--stream=false', '--since', new Date(since).toISOString(), '--filter', 'type=container', '--format', 'json']);
  return stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line))
    .map((e) => ({ name: e.Name, status: e.Status, time: Date.parse(e.Time), exitCode: e.ContainerExitCode ?? 0 }))
    .sort((a, b) => a.time - b.time);
}

/** HTTP GETs from inside a container, to its own port (the pods publish none), in one `exec`. */
export async function getFrom(container: string, urls: readonly string[]): Promise<{ status: number; body: any }[]> {
  const script = `Promise.all(process.argv.slice(1).map((u) => fetch(u).then(async (r) => ({ status: r.status, body: await r.json() }))))
  .then((all) => console.log(JSON.stringify(all)), (e) => { console.error(String(e.cause ?? e)); process.exit(1); });`;
  const { stdout } = await podmanMust(['exec', container, 'node', '-e', script, ...urls]);
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

/** Removes every pod but `keep`. */
export async function removePods(keep: readonly string[]): Promise<void> {
  const pods = (await podmanMust(['pod', 'ps', '--format', '{{.Name}}'])).stdout.split('\n').filter((p) => p && !keep.includes(p));
  if (pods.length > 0) await podmanMust(['pod', 'rm', '--force', '--time', '5', ...pods]);
}

/**
 * Which images the container tests build and under which names, read from the project's files:
 * compose.yaml's `build:` services (built by Compose), and the images the Kubernetes manifests and
 * the Helm chart name: `<registry>/berth-example/<service>` is the service target of
 * services/<service>/Dockerfile (the image Compose built, tagged again) and
 * `<registry>/berth-example/<app>-migrator` the migrator target of `<app>`'s Dockerfile: a
 * service's, or an example's without a service (examples/tenants, for the fleet Job).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import YAML from 'yaml';
import { repoPath } from './run.js';

export const COMPOSE_FILE = repoPath('deploy/compose/compose.yaml');
/** Only what Docker Engine 20.10 cannot take (deploy/containers/compose.engine-20.10.yaml). */
export const ENGINE_OVERRIDE = repoPath('deploy/containers/compose.engine-20.10.yaml');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  profiles?: string[];
}

export function composeServices(): Record<string, ComposeService> {
  return (YAML.parse(readFileSync(COMPOSE_FILE, 'utf8')) as { services: Record<string, ComposeService> }).services;
}

/** The postgres image compose.yaml names; the Kubernetes tests run their database from it too. */
export const POSTGRES_IMAGE = composeServices().postgres!.image!;

/** The berth image compose.yaml builds (packages/berth/Dockerfile): an example's migrator starts FROM it. */
export const BERTH_IMAGE = Object.values(composeServices()).find((s) => s.build?.dockerfile === 'packages/berth/Dockerfile')!.image!;

/** The folder of an app's Dockerfile and migrations: services/<app>, else examples/<app>. */
export function appDir(app: string): string {
  const dir = [`services/${app}`, `examples/${app}`].find((d) => existsSync(repoPath(d, 'Dockerfile')));
  if (!dir) throw new Error(`no Dockerfile for ${app} in services/${app} or examples/${app}`);
  return dir;
}

/** Every image a manifest under deploy/k8s/ names. */
export function kubernetesImages(): string[] {
  const images = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(repoPath(dir), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith('.yaml')) {
        for (const match of readFileSync(repoPath(dir, entry.name), 'utf8').matchAll(/^\s*image:\s*(\S+)\s*$/gm)) images.add(match[1]!);
      }
    }
  };
  walk('deploy/k8s');
  return [...images].sort();
}

export interface BuildPlan {
  /** Compose services built by `compose build`. */
  readonly compose: string[];
  readonly composeArgs: string[];
  /** Further builds: the migrator targets (an example's gets the berth image as BERTH_IMAGE). */
  readonly builds: { dockerfile: string; target: string; tag: string; args?: Record<string, string> }[];
  /** [existing image, new name]. */
  readonly tags: [string, string][];
}

export function buildPlan(): BuildPlan {
  const services = composeServices();
  // `compose build` builds the services of the default system; a profile's (mariadb) are left out.
  const compose = Object.entries(services).filter(([, s]) => s.build && !s.profiles).map(([name]) => name);
  const builds: BuildPlan['builds'] = [];
  const tags: BuildPlan['tags'] = [];
  for (const image of kubernetesImages()) {
    const match = /\/berth-example\/([a-z]+)(-migrator)?:[^/]+$/.exec(image);
    if (!match) throw new Error(`no build for ${image} (a Kubernetes manifest's image)`);
    const [, app, migrator] = match;
    if (migrator) {
      const dockerfile = `${appDir(app!)}/Dockerfile`;
      const fromBerth = /^ARG BERTH_IMAGE\b/m.test(readFileSync(repoPath(dockerfile), 'utf8'));
      builds.push({ dockerfile, target: 'migrator', tag: image, ...(fromBerth ? { args: { BERTH_IMAGE } } : {}) });
    } else {
      const service = services[app!];
      if (!service?.image || service.build?.dockerfile !== `services/${app}/Dockerfile`) {
        throw new Error(`compose.yaml has no service ${app} built from services/${app}/Dockerfile (for ${image})`);
      }
      tags.push([service.image, image]);
    }
  }
  return { compose, composeArgs: ['-p', 'berth-t-build', '-f', COMPOSE_FILE, '-f', ENGINE_OVERRIDE], builds, tags };
}

/** What `podman kube play` runs: the Kubernetes images and the database. */
export const PODMAN_IMAGES = [POSTGRES_IMAGE, ...kubernetesImages()];

/**
 * Kubernetes manifests against the Kubernetes API's own schemas, twice:
 *
 * 1. `kubernetes-models`: JSON Schemas generated from the Kubernetes OpenAPI spec, compiled with
 *    ajv. Catches wrong types, bad enum values (`action: Fail`), missing required fields, bad
 *    formats. Like the OpenAPI spec, it allows unknown fields.
 * 2. `kubernetes-types` (the API's Go types as TypeScript declarations) through the TypeScript
 *    compiler: every manifest becomes an object literal typed as its kind, so a misspelt or
 *    misplaced field (`backofLimit`, `readOnlyRootFileSystem`) is an excess-property error, as it
 *    is for the API server's strict field validation (`kubectl apply --validate=strict`).
 */
import path from 'node:path';
import ts from 'typescript';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { Secret } from 'kubernetes-models/v1/Secret';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { REPO_ROOT, type YamlDocument } from './files.js';
import { ServiceMonitor } from './monitoring-v1.js';

interface Validatable {
  validate(): void;
}

/** The kinds this repository uses: apiVersion/kind → model class and TypeScript type. */
const KINDS: Record<string, { model: new (data: any) => Validatable; typeModule: string; typeName: string }> = {
  'batch/v1/Job': { model: Job, typeModule: 'kubernetes-types/batch/v1', typeName: 'Job' },
  'apps/v1/Deployment': { model: Deployment, typeModule: 'kubernetes-types/apps/v1', typeName: 'Deployment' },
  'v1/Service': { model: Service, typeModule: 'kubernetes-types/core/v1', typeName: 'Service' },
  'v1/Secret': { model: Secret, typeModule: 'kubernetes-types/core/v1', typeName: 'Secret' },
  // Not a built-in kind: a local subset of the Prometheus Operator's CRD (support/monitoring-v1.ts).
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor, typeModule: './support/monitoring-v1-types.js', typeName: 'ServiceMonitorManifest' },
  'v1/ConfigMap': { model: ConfigMap, typeModule: 'kubernetes-types/core/v1', typeName: 'ConfigMap' },
};

export const kindKey = (doc: YamlDocument): string => `${doc.data?.apiVersion}/${doc.data?.kind}`;
const label = (doc: YamlDocument): string => `${doc.file} #${doc.index} ${doc.data?.kind ?? '?'} ${doc.data?.metadata?.name ?? '?'}`;

/** Schema errors of every document, as `file #n Kind name: message` lines (empty: all valid). */
export function schemaErrors(docs: readonly YamlDocument[]): string[] {
  const errors: string[] = [];
  for (const doc of docs) {
    const kind = KINDS[kindKey(doc)];
    if (!kind) {
      errors.push(`${label(doc)}: no schema for ${kindKey(doc)} (add it to deploy/test/support/kubernetes.ts)`);
      continue;
    }
    try {
      new kind.model(doc.data).validate();
    } catch (error) {
      errors.push(`${label(doc)}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** Compiler options of the strict check: only the ES library, no ambient types (fast, ~1 s). */
const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  types: [],
};

/**
 * Unknown or mistyped fields, found by the TypeScript compiler against `kubernetes-types`. One
 * program for all documents; each diagnostic is reported against the document it falls in. The
 * compiler stops at the first excess property of an object literal, so fixing one may reveal the
 * next.
 */
export function strictFieldErrors(docs: readonly YamlDocument[]): string[] {
  const imports = new Map<string, string>();
  const spans: { start: number; end: number; doc: YamlDocument }[] = [];
  let body = '';
  docs.forEach((doc, i) => {
    const kind = KINDS[kindKey(doc)];
    if (!kind) return; // reported by schemaErrors
    const alias = `${kind.typeName}_${kind.typeModule.replace(/\W/g, '_')}`;
    imports.set(alias, `import type { ${kind.typeName} as ${alias} } from '${kind.typeModule}';\n`);
    const code = `export const manifest${i}: ${alias} = ${JSON.stringify(doc.data, null, 2)};\n`;
    spans.push({ start: body.length, end: body.length + code.length, doc });
    body += code;
  });
  const header = [...imports.values()].join('');
  const source = header + body;
  // A virtual file inside the repository, so that `kubernetes-types` resolves from node_modules.
  const fileName = path.join(REPO_ROOT, 'deploy/test/__manifests__.ts');
  const host = ts.createCompilerHost(COMPILER_OPTIONS);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, languageVersion, true) : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], COMPILER_OPTIONS, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== fileName || d.start === undefined) return `TypeScript: ${message}`;
    const offset = d.start - header.length;
    const span = spans.find((s) => offset >= s.start && offset < s.end);
    if (!span) return `TypeScript (imports): ${message}`;
    // The JSON path is easier to find from the line's key than from an offset into generated code.
    const line = source.slice(source.lastIndexOf('\n', d.start) + 1, source.indexOf('\n', d.start)).trim();
    return `${label(span.doc)}: ${message} (at ${line})`;
  });
}

type Container = Record<string, any>;

/** The pod spec of a Job or Deployment document (null for other kinds). */
export function podSpec(doc: YamlDocument): Record<string, any> | null {
  return ['Job', 'Deployment'].includes(doc.data?.kind) ? doc.data.spec?.template?.spec ?? null : null;
}

/** Init containers and containers of a pod spec. */
export function allContainers(pod: Record<string, any>): Container[] {
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
}

/**
 * The restricted Pod Security Standard, as this repository applies it: what every pod and
 * container must set (failures as readable strings).
 */
export function restrictedProfileViolations(doc: YamlDocument): string[] {
  const pod = podSpec(doc);
  if (!pod) return [];
  const where = label(doc);
  const out: string[] = [];
  const podSc = pod.securityContext ?? {};
  if (podSc.runAsNonRoot !== true) out.push(`${where}: pod securityContext.runAsNonRoot must be true`);
  if (podSc.seccompProfile?.type !== 'RuntimeDefault') out.push(`${where}: pod seccompProfile must be RuntimeDefault`);
  if (typeof podSc.runAsUser === 'number' && podSc.runAsUser === 0) out.push(`${where}: pod runs as UID 0`);
  if (pod.automountServiceAccountToken !== false) out.push(`${where}: automountServiceAccountToken must be false (no pod here calls the API)`);
  for (const c of allContainers(pod)) {
    const sc = c.securityContext ?? {};
    const at = `${where} container ${c.name}`;
    if (sc.allowPrivilegeEscalation !== false) out.push(`${at}: allowPrivilegeEscalation must be false`);
    if (sc.readOnlyRootFilesystem !== true) out.push(`${at}: readOnlyRootFilesystem must be true`);
    if (sc.runAsNonRoot !== true && podSc.runAsNonRoot !== true) out.push(`${at}: runAsNonRoot must be true`);
    if (!Array.isArray(sc.capabilities?.drop) || !sc.capabilities.drop.includes('ALL')) out.push(`${at}: capabilities.drop must include ALL`);
    if (sc.capabilities?.add?.length) out.push(`${at}: adds capabilities`);
    if (sc.privileged === true) out.push(`${at}: privileged`);
    if ((sc.seccompProfile?.type ?? podSc.seccompProfile?.type) !== 'RuntimeDefault') out.push(`${at}: seccompProfile must be RuntimeDefault`);
    if (!c.resources?.limits?.memory || !c.resources?.limits?.cpu) out.push(`${at}: resources.limits.cpu and .memory are required`);
    if (!c.resources?.requests?.memory || !c.resources?.requests?.cpu) out.push(`${at}: resources.requests.cpu and .memory are required`);
  }
  return out;
}

/** berth's exit codes (SPEC §5): what a Job must fail on at once, and what it must retry. */
export const NON_RETRYABLE_EXIT_CODES = [1, 2, 5, 6, 8] as const;
export const RETRYABLE_EXIT_CODES = [3, 4, 7, 130, 143] as const;

/**
 * How the Job's podFailurePolicy treats an exit code of `container`: the action of the first rule
 * that matches (Kubernetes evaluates rules in order), or 'Count' (the default) when none does.
 */
export function podFailureAction(job: Record<string, any>, container: string, exitCode: number): string {
  for (const rule of job.spec?.podFailurePolicy?.rules ?? []) {
    const onExit = rule.onExitCodes;
    if (!onExit) continue;
    if (onExit.containerName !== undefined && onExit.containerName !== container) continue;
    const listed = (onExit.values as number[]).includes(exitCode);
    if ((onExit.operator === 'In' && listed) || (onExit.operator === 'NotIn' && !listed)) return rule.action;
  }
  return 'Count';
}

/** Env value of `name` in a container (undefined when absent or not a literal value). */
export const envValue = (container: Container, name: string): string | undefined =>
  (container.env ?? []).find((e: { name: string }) => e.name === name)?.value;

/** The Secret name behind the volume mounted at `mountPath` in `container`. */
export function secretMountedAt(pod: Record<string, any>, container: Container, mountPath: string): string | undefined {
  const mount = (container.volumeMounts ?? []).find((m: { mountPath: string }) => mountPath.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  const volume = (pod.volumes ?? []).find((v: { name: string }) => v.name === mount?.name);
  return volume?.secret?.secretName;
}

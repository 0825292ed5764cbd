/**
 * Renders deploy/helm/berth-example the way `helm template` does, without a helm binary (none is
 * packaged for npm or Debian): the chart's templates use only Go's built-in template functions, so
 * Go's own text/template (compiled to WebAssembly, `@evertdespiegeleer/go-template`) renders them.
 * That is the engine Helm itself runs; what Helm adds and this reproduces:
 *
 * - the top-level objects `.Values` (values.yaml, deep-merged with overrides like `--set`),
 *   `.Release` and `.Chart` (Chart.yaml, keys capitalized as Helm does);
 * - every file in templates/ starting with `_` is parsed with each template, so its `define`s are
 *   available to `template`;
 * - NOTES.txt is rendered but is not a manifest.
 *
 * The engine runs with missingkey=error: a template that reads a key values.yaml does not define
 * fails here (Helm would render it empty), which keeps values.yaml the complete list of settings.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parse as renderGoTemplate } from '@evertdespiegeleer/go-template';
import YAML from 'yaml';
import { parseYamlDocuments, repoPath, type YamlDocument } from './files.js';

export const CHART_DIR = 'deploy/helm/berth-example';

export interface Release {
  readonly name: string;
  readonly namespace: string;
  readonly isInstall: boolean;
}

export interface Rendered {
  /** Manifests, as `helm template` prints them (file = the template that produced the document). */
  readonly documents: YamlDocument[];
  /** Raw output per template file. */
  readonly outputs: Record<string, string>;
  readonly notes: string;
}

export function chartMetadata(): Record<string, any> {
  return YAML.parse(readFileSync(repoPath(CHART_DIR, 'Chart.yaml'), 'utf8'));
}

export function defaultValues(): Record<string, any> {
  return YAML.parse(readFileSync(repoPath(CHART_DIR, 'values.yaml'), 'utf8'));
}

/** Helm's value merge: maps merge key by key, everything else (lists included) is replaced. */
export function mergeValues(base: any, override: any): any {
  if (!isPlainObject(base) || !isPlainObject(override)) return structuredClone(override);
  const out: Record<string, any> = structuredClone(base);
  for (const [key, value] of Object.entries(override)) out[key] = key in out ? mergeValues(out[key], value) : structuredClone(value);
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function renderChart(overrides: Record<string, any> = {}, release: Release = { name: 'demo', namespace: 'default', isInstall: true }): Promise<Rendered> {
  const chart = chartMetadata();
  const values = mergeValues(defaultValues(), overrides);
  const templatesDir = repoPath(CHART_DIR, 'templates');
  const files = readdirSync(templatesDir).sort();
  const helpers = files.filter((f) => f.startsWith('_')).map((f) => readFileSync(`${templatesDir}/${f}`, 'utf8')).join('\n');
  const data = {
    Values: values,
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm', Revision: 1, IsInstall: release.isInstall, IsUpgrade: !release.isInstall },
    Chart: Object.fromEntries(Object.entries(chart).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v])),
    Capabilities: { KubeVersion: { Version: 'v1.31.0', Major: '1', Minor: '31' } },
  };
  const outputs: Record<string, string> = {};
  let notes = '';
  const documents: YamlDocument[] = [];
  for (const file of files.filter((f) => !f.startsWith('_'))) {
    const text = readFileSync(`${templatesDir}/${file}`, 'utf8');
    let output: string;
    try {
      output = await renderGoTemplate(`${helpers}\n${text}`, { ...data, Template: { Name: `${chart.name}/templates/${file}`, BasePath: `${chart.name}/templates` } });
    } catch (error) {
      throw new Error(`${CHART_DIR}/templates/${file}: ${(error as Error).message}`);
    }
    outputs[file] = output;
    if (file === 'NOTES.txt') {
      notes = output;
      continue;
    }
    if (!/\.(ya?ml|tpl)$/.test(file)) continue;
    for (const doc of parseYamlDocuments(output, `${CHART_DIR}/templates/${file}`)) documents.push({ ...doc, index: documents.length });
  }
  return { documents, outputs, notes };
}

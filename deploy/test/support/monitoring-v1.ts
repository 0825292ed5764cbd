/**
 * The Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), for the checks of
 * support/kubernetes.ts: kubernetes-models covers only the built-in kinds, so this is a local
 * subset of the CRD's openAPIV3Schema (prometheus-operator v0.7x+, `servicemonitors.yaml`): the
 * fields of `spec`, `selector` and an endpoint that manifests here may use, with the CRD's types,
 * enums and patterns. Honest about being a subset: a field outside it is refused (as strict
 * validation refuses an unknown field) — add it here, from the CRD, before using it.
 */
import { Ajv } from 'ajv';

export type { ServiceMonitorManifest } from './monitoring-v1-types.js';

const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string' },
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** The CRD's `Duration` pattern (e.g. `15s`, `1m30s`). */
const duration = { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' } as const;

export const SERVICE_MONITOR_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'ServiceMonitor' },
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 253 },
        namespace: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      required: ['selector'],
      additionalProperties: false,
      properties: {
        jobLabel: { type: 'string' },
        selector: labelSelector,
        namespaceSelector: {
          type: 'object',
          additionalProperties: false,
          properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } },
        },
        endpoints: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              port: { type: 'string' },
              targetPort: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
              path: { type: 'string' },
              scheme: { type: 'string', enum: ['http', 'https', 'HTTP', 'HTTPS'] },
              interval: duration,
              scrapeTimeout: duration,
              honorLabels: { type: 'boolean' },
            },
          },
        },
      },
    },
  },
} as const;

const validateServiceMonitor = new Ajv({ allErrors: true, strict: true }).compile(SERVICE_MONITOR_SCHEMA);

/** Validates like a kubernetes-models class: throws with every problem. */
export class ServiceMonitor {
  readonly #data: unknown;
  constructor(data: unknown) {
    this.#data = data;
  }

  validate(): void {
    if (validateServiceMonitor(this.#data)) return;
    const problems = (validateServiceMonitor.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new Error(problems.join('; '));
  }
}

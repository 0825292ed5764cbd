/** Types only (no imports): the TypeScript compiler of support/kubernetes.ts loads this file alone. */

/** The subset of support/monitoring-v1.ts as a type, for the strict-field check by the TypeScript compiler. */
export interface ServiceMonitorManifest {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    jobLabel?: string;
    selector: {
      matchLabels?: Record<string, string>;
      matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
    };
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    endpoints?: {
      port?: string;
      targetPort?: number | string;
      path?: string;
      scheme?: 'http' | 'https' | 'HTTP' | 'HTTPS';
      interval?: string;
      scrapeTimeout?: string;
      honorLabels?: boolean;
    }[];
  };
}

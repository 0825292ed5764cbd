/** Types of compose-to-processes.mjs, for the TypeScript tests that import it. */

export declare const REPO_ROOT: string;
export declare const COMPOSE_FILE: string;
export declare const DATABASES: readonly ['users', 'orders'];

export interface DatabaseNames {
  readonly db: string;
  readonly owner: string;
  readonly app: string;
}
export type Names = Record<'users' | 'orders', DatabaseNames>;

export declare function defaultNames(): Names;
export declare function suffixedNames(suffix?: string): Names;
export declare function nameSettings(names: Names): Record<string, string>;
export declare function writeSecrets(
  dir: string,
  options: { host: string; names?: Names; superuserPassword?: string },
): { dir: string; names: Names; files: string[] };

export interface System {
  readonly file: string;
  readonly dir: string;
  readonly services: Record<string, any>;
  readonly postgres: { readonly name: string; readonly initScripts: string[] };
  readonly migrators: { readonly name: string; readonly app: string }[];
  readonly apps: { readonly name: string; readonly replicas: number; readonly migrator: string | undefined; readonly packageDir: string }[];
}

export interface LocalProcess {
  readonly service: string;
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
}

export declare function readSystem(file?: string): System;
export declare function serviceProcess(
  system: System,
  name: string,
  context: {
    secretsDir: string;
    hosts?: Record<string, string>;
    listen?: { host: string; port: number };
    env?: Record<string, string | undefined>;
  },
): LocalProcess;
export declare function initProcesses(
  system: System,
  context: { secretsDir: string; adminUrl: string; env?: Record<string, string> },
): (LocalProcess & { script: string })[];
export declare function hostKey(service: string, port: string | number): string;

/** Types of compose-to-processes.mjs, for the TypeScript tests that import it. */

export declare const REPO_ROOT: string;
export declare const COMPOSE_FILE: string;
export declare const DATABASES: readonly ['users', 'orders'];
export declare const MARIADB_DATABASES: readonly ['inventory'];

export interface DatabaseNames {
  readonly db: string;
  readonly owner: string;
  readonly app: string;
}
export type Names = Record<'users' | 'orders', DatabaseNames>;
/** The `mariadb` profile's database: an owner, no app role. */
export type MariadbNames = Record<'inventory', Omit<DatabaseNames, 'app'>>;

export declare function defaultNames(): Names;
export declare function defaultMariadbNames(): MariadbNames;
export declare function suffixedNames(suffix?: string): Names;
export declare function nameSettings(names: Record<string, { readonly db: string; readonly owner: string; readonly app?: string }>): Record<string, string>;
export declare function writeSecrets(
  dir: string,
  options: { host: string; names?: Names; superuserPassword?: string; mariadb?: { host?: string; names?: MariadbNames } },
): { dir: string; names: Names; mariadbNames: MariadbNames; files: string[] };

export interface DatabaseService {
  readonly name: string;
  readonly initScripts: string[];
}

export interface System {
  readonly file: string;
  readonly dir: string;
  readonly profiles: string[];
  readonly services: Record<string, any>;
  readonly postgres: DatabaseService;
  readonly mariadb: DatabaseService | undefined;
  readonly migrators: { readonly name: string; readonly app: string | undefined }[];
  readonly apps: { readonly name: string; readonly replicas: number; readonly migrator: string | undefined; readonly packageDir: string }[];
}

export interface LocalProcess {
  readonly service: string;
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
}

export declare function readSystem(options?: { file?: string; profiles?: string[] }): System;
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
  context: { database?: 'postgres' | 'mariadb'; secretsDir: string; adminUrl: string; env?: Record<string, string> },
): (LocalProcess & { script: string })[];
export declare function hostKey(service: string, port: string | number): string;

import { runService } from '@berth-example/service-kit';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

await runService({ name: 'orders', loadConfig: () => loadConfig(), buildApp });

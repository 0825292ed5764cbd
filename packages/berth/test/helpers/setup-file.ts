/**
 * Runs in every test file (vitest `setupFiles`): after the file's own afterAll hooks, kill CLI children
 * it left running and remove its temp directories (see `cli.ts`).
 */
import { afterAll } from 'vitest';
import { cleanupProcesses } from './cli.js';

afterAll(cleanupProcesses);

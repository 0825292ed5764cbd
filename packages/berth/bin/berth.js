#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// A CLI run is short and often runs under a container memory limit, so it trades peak speed for
// footprint and start-up (measured in bench/: on 1,000 migrations, peak RSS drops by ~40%):
// - WebAssembly (the lint parser, PGlite) stays on V8's baseline compiler: optimising the parser
//   costs more memory and time than a run ever wins back;
// - the young generation does not grow, so short-lived garbage does not inflate the heap.
setFlagsFromString('--liftoff-only');
setFlagsFromString('--semi-space-growth-factor=1');

const { runCli } = await import('../dist/cli.js');
process.exitCode = await runCli(process.argv.slice(2));

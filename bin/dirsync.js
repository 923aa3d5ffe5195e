#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
// The heap is tuned first (see src/cli/heap.ts), then the CLI is loaded.
import { tuneHeap } from '../dist/cli/heap.js';

const problem = tuneHeap(process.env);
if (problem !== undefined) {
  process.stderr.write(`error: ${problem}\n`);
  process.exit(2);
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);

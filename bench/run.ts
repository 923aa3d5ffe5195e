/**
 * `npm run bench`: every benchmark, printed as a table and written to bench/results.json.
 * Not part of `npm test`; needs `npm run build` first (done by `npm ci`).
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchMockApi, printMockBench } from './mock-api.js';
import { ROOT } from './support.js';

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
console.log(`machine: ${machine}\n`);

const mock = await benchMockApi();
printMockBench(mock);

writeFileSync(
  join(ROOT, 'bench/results.json'),
  JSON.stringify({ machine, date: new Date().toISOString(), mock }, null, 2) + '\n',
);
console.log('\nwritten to bench/results.json');

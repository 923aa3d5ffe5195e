/**
 * `npm run bench`: every benchmark, one after the other, printed and written to
 * bench/results.json. Not part of `npm test`; needs `npm run build` first (done by `npm ci`) and,
 * for the directory read and the whole runs (bench/sync.ts), slapd and ldap-utils (the same
 * Debian packages as the tests).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchMockApi, printMockBench } from './mock-api.js';
import { ROOT } from './support.js';

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
console.log(`machine: ${machine}\n`);

const mock = await benchMockApi();
printMockBench(mock);

/** The other benchmarks run in their own processes, so one's heap does not weigh on the next. */
function runScript(name: string): { status: number | null; output: string; result?: unknown } {
  console.log(`\n== ${name}`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', name)], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DIRSYNC_BENCH_JSON: '1' },
    maxBuffer: 64 * 2 ** 20,
  });
  // A script may end with one `JSON {...}` line: its figures, for results.json, not for the eye.
  const lines = child.stdout.split('\n');
  const json = lines.find((l) => l.startsWith('JSON '));
  const output = lines.filter((l) => l !== json).join('\n');
  process.stdout.write(output);
  return {
    status: child.status,
    output,
    ...(json === undefined ? {} : { result: JSON.parse(json.slice(5)) as unknown }),
  };
}

const apiClient = runScript('api-client.ts');
const directoryRead = runScript('directory-read.ts');
const plan = runScript('plan.ts');
const hotPaths = runScript('hot-paths.ts');
const planDomains = runScript('plan-domains.ts');
const sync = runScript('sync.ts');
const steady = runScript('steady.ts');

writeFileSync(
  join(ROOT, 'bench/results.json'),
  JSON.stringify(
    {
      machine,
      date: new Date().toISOString(),
      mock,
      apiClient,
      directoryRead,
      plan,
      hotPaths,
      planDomains,
      sync,
      steady,
    },
    null,
    2,
  ) + '\n',
);
console.log('\nwritten to bench/results.json');

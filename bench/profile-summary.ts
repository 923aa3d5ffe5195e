/**
 * Where a V8 CPU profile (`node --cpu-prof`) spent its time: self time by place (dirsync's own
 * modules by file, npm packages by name, Node's internals, GC, idle) and the hottest functions.
 *
 *   npx tsx bench/profile-summary.ts FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ROOT } from './support.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Self time by place, largest first. */
  places: { place: string; ms: number }[];
  /** Self time by function, largest first. */
  functions: { name: string; place: string; ms: number }[];
}

/** `dist/reconcile/plan.js`, `npm:zod`, `node:internal`, or the profiler's own `(gc)` and such. */
export function placeOf(url: string, functionName: string, root: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg !== undefined) return `npm:${pkg}`;
  const base = pathToFileURL(root).href + '/';
  if (url.startsWith(base)) return url.slice(base.length);
  if (url.startsWith('node:')) return 'node:internal';
  return url;
}

export function summarizeProfile(file: string, root = ROOT, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const places = new Map<string, number>();
  const functions = new Map<string, { name: string; place: string; ms: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const place = placeOf(frame.url, frame.functionName, root);
    places.set(place, (places.get(place) ?? 0) + us / 1000);
    const name = `${frame.functionName || '(anonymous)'}:${frame.lineNumber + 1}`;
    const key = `${place} ${name}`;
    const f = functions.get(key) ?? { name, place, ms: 0 };
    f.ms += us / 1000;
    functions.set(key, f);
  }
  return {
    file,
    totalMs: (profile.endTime - profile.startTime) / 1000,
    places: [...places]
      .map(([place, ms]) => ({ place, ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
    functions: [...functions.values()].sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}

export function printProfile(p: ProfileSummary): void {
  console.log(`  CPU profile ${p.file}: ${p.totalMs.toFixed(0)} ms profiled`);
  console.log('    self time by place:');
  for (const x of p.places) console.log(`      ${x.ms.toFixed(0).padStart(6)} ms  ${x.place}`);
  console.log('    hottest functions (self time):');
  for (const f of p.functions)
    console.log(`      ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.place}`);
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  for (const file of positionals) printProfile(summarizeProfile(file, ROOT, Number(values.top)));
}

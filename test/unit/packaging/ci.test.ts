import { describe, expect, it } from 'vitest';
import { readRepoFile } from './support.js';

/** The commands of the README's Quick start block, comments dropped. */
function quickStartCommands(): string[] {
  const readme = readRepoFile('README.md');
  const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
}

describe('.ci/run', () => {
  const script = readRepoFile('.ci/run');
  const commands = script.split('\n').filter((line) => !/^\s*#/.test(line));

  it("runs exactly the README's test command, on the image's Node line", () => {
    const testCommand = quickStartCommands().find((c) => /\btest\b/.test(c));

    expect(testCommand).toBe('npm test');
    expect(commands).toContain('PATH="$image_bin:$PATH" npm test');
  });

  it("runs the README's demo and the floor suites on the engines floor", () => {
    expect(quickStartCommands()[0]).toBe('npm ci && npm start');
    expect(commands.some((c) => c.startsWith('PATH="$floor_bin:$PATH" npm start'))).toBe(true);
    expect(commands).toContain('PATH="$floor_bin:$PATH" npm run test:floor');
  });

  it('reads both Node lines from the files that set them', () => {
    const pkg = JSON.parse(readRepoFile('package.json')) as {
      engines: { node: string };
      scripts: Record<string, string>;
    };

    expect(readRepoFile('Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:\d+-/m);
    expect(pkg.engines.node).toMatch(/^>=\s*\d+\.\d+(\.\d+)?$/);
    expect(pkg.scripts['test:floor']).toContain('vitest run test/unit test/e2e');
  });
});

type Version = [number, number, number];

/**
 * Whether `version` is in an npm `engines` range, for the forms the lockfile's packages use
 * (`>=20.19.0`, `>= 18`, `^20.19.0 || >=22.12.0`, `20.x || 22.x`, `20 || >=22`, `*`); any other
 * form throws, so that a new one is read here before it is trusted.
 */
function inRange(version: Version, range: string): boolean {
  const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  return range.split('||').some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/);
    return comparators.every((comparator) => {
      if (comparator === '*' || comparator === '') return true;
      const m = /^(>=|>|<=|<|\^|~|=)?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(comparator);
      if (m === null) throw new Error(`cannot read the engines range "${range}"`);
      const [, op = '', major, minor, patch] = m;
      const parts = [major, minor, patch].map((p) =>
        p === undefined || p === 'x' ? -1 : Number(p),
      );
      const bound: Version = [parts[0]!, Math.max(parts[1]!, 0), Math.max(parts[2]!, 0)];
      const c = compare(version, bound);
      if (op === '>=') return c >= 0;
      if (op === '>') return c > 0;
      if (op === '<=') return c <= 0;
      if (op === '<') return c < 0;
      if (op === '^') return version[0] === bound[0] && c >= 0;
      if (op === '~') return version[0] === bound[0] && version[1] === bound[1] && c >= 0;
      // A bare version: as many parts as it gives must match.
      return parts.every((p, i) => p === -1 || p === version[i]);
    });
  });
}

describe('the engines floor', () => {
  it('reads the ranges the lockfile uses', () => {
    expect(inRange([20, 19, 0], '^20.19.0 || ^22.13.0 || >=24')).toBe(true);
    expect(inRange([20, 18, 0], '^20.19.0 || ^22.13.0 || >=24')).toBe(false);
    expect(inRange([20, 18, 0], '>=20.18.1')).toBe(false);
    expect(inRange([26, 10, 0], '20.x || 22.x || 23.x || 24.x || 25.x || 26.x')).toBe(true);
    expect(inRange([21, 0, 0], '20 || >=22')).toBe(false);
    expect(inRange([20, 19, 0], '>= 18')).toBe(true);
    expect(() => inRange([20, 19, 0], '20.19.0 - 22')).toThrow(/cannot read/);
  });

  it('is a Node that every locked package, dev tools included, says it supports', () => {
    // A floor below one of them is untested in practice: undici 7.30 needs 20.18.1, eslint 10
    // and vite 8 (vitest 4) need 20.19, so `npm test` needs 20.19 on the Node 20 line.
    const lock = JSON.parse(readRepoFile('package-lock.json')) as {
      packages: Record<string, { engines?: { node?: string } }>;
    };
    const pkg = JSON.parse(readRepoFile('package.json')) as { engines: { node: string } };
    const floor = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(pkg.engines.node);
    expect(floor).not.toBeNull();
    const version: Version = [Number(floor![1]), Number(floor![2]), Number(floor![3] ?? 0)];

    const unsupported = Object.entries(lock.packages)
      .filter(([, p]) => p.engines?.node !== undefined && !inRange(version, p.engines.node))
      .map(([path, p]) => `${path} (${p.engines?.node})`);

    expect(unsupported).toEqual([]);
  });
});

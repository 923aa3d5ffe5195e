import { readFile } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { QueuedFile } from './samba-setup.js';

/**
 * The test files of this run, with their text, for the global setups' rules (samba-setup.ts):
 * `vitest run test/unit` then skips the server starts. The CLI filters live in an internal field
 * of Vitest; if it ever goes away every test file counts as queued, which only costs time.
 */
export async function queuedFiles(project: TestProject): Promise<QueuedFile[]> {
  const pattern: unknown = Reflect.get(project.vitest, 'filenamePattern');
  const filters =
    Array.isArray(pattern) && pattern.every((item) => typeof item === 'string')
      ? pattern
      : undefined;
  const specs = await project.vitest.globTestSpecifications(filters);
  const files = [...new Set(specs.map((spec) => spec.moduleId))];
  const root = project.config.root;
  return Promise.all(
    files.map(async (file) => ({
      path: relative(root, file).split(sep).join('/'),
      source: await readFile(file, 'utf8').catch(() => ''),
    })),
  );
}

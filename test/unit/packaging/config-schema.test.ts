import { describe, expect, it } from 'vitest';
import { configSchemaText, readRepoFile } from './support.js';

describe('config/schema.json', () => {
  it('is the current output of `dirsync config schema`', () => {
    const committed = readRepoFile('config/schema.json');

    const current = configSchemaText();

    expect(
      committed,
      'config/schema.json is stale: run `node bin/dirsync.js config schema > config/schema.json` (after `npm run build`) and commit it',
    ).toBe(current);
  });

  it('is a JSON Schema of a strict object with the config sections', () => {
    const schema = JSON.parse(readRepoFile('config/schema.json')) as {
      $schema: string;
      properties: Record<string, unknown>;
      additionalProperties: boolean;
      required: string[];
    };

    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['source', 'api', 'rules', 'safety', 'schedule', 'server', 'state']),
    );
    expect(schema.required).toEqual(['source', 'api', 'rules']);
  });
});

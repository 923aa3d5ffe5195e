import { describe, expect, it } from 'vitest';
import { configSchemaText, readRepoFile, schemaKeyPaths, type SchemaNode } from './support.js';

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

  it('describes every key, for editor hovers (the comments of config/example.yaml)', () => {
    const schema = JSON.parse(readRepoFile('config/schema.json')) as SchemaNode;

    const undescribed = [...schemaKeyPaths(schema)]
      .filter(([, nodes]) =>
        nodes.some((n) => typeof (n as { description?: unknown }).description !== 'string'),
      )
      .map(([path]) => path);

    expect(undescribed).toEqual([]);
  });

  it('takes each description from the comment above the key, per source type', () => {
    const schema = JSON.parse(readRepoFile('config/schema.json')) as {
      properties: {
        api: { properties: Record<string, { description: string }> };
        source: {
          oneOf: { properties: Record<string, { const?: string; description: string }> }[];
        };
      };
    };
    const option = (type: string) =>
      schema.properties.source.oneOf.find((o) => o.properties['type']!.const === type)!;

    expect(schema.properties.api.properties['concurrency']!.description).toBe(
      'Requests in flight at once (1 to 64). Default: 8. Lower it if the API answers 429.',
    );
    expect(option('ldif').properties['flavor']!.description).toBe(
      'ad | openldap | 389ds. Default: openldap.',
    );
    expect(option('ldap').properties['flavor']!.description).toMatch(
      /^ad \| openldap \| 389ds: the defaults/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { knownSecrets } from '../../../src/cli/context.js';
import { Config } from '../../../src/config/schema.js';

describe('knownSecrets', () => {
  it('lists every secret value a run knows, for the logger and the API client to scrub', () => {
    const config = Config.parse({
      source: { type: 'ldif', file: 'x.ldif' },
      api: { baseUrl: 'https://api.example.com' },
      rules: { scope: { emailDomains: ['corp.example.com'] } },
      notify: {
        webhooks: [{ url: 'https://hooks.example.com/T0/B0/secret' }, { urlFile: 'hook.url' }],
      },
    });

    const secrets = knownSecrets({
      config,
      secrets: { token: 'api-token', bindPassword: undefined, scimTokens: ['scim-1', 'scim-2'] },
    });

    expect(secrets).toEqual([
      'api-token',
      'scim-1',
      'scim-2',
      'https://hooks.example.com/T0/B0/secret',
    ]);
  });
});

import type { ScimConfig } from '../config/schema.js';
import type { SourceConfig } from '../config/source.js';
import { ConfigError } from '../errors.js';
import type { LdapSourceDeps } from './ldap/source.js';
import type { DirectorySource } from './model.js';

export type { DirectorySnapshot, DirectorySource, DirectoryUser, ReadRequest } from './model.js';

/**
 * A source whose module is imported on its first read: a run loads the code (and ldapts, or the
 * SCIM store) of the source it is configured with, and nothing of the others.
 */
function lazySource(load: () => Promise<DirectorySource>): DirectorySource {
  let source: Promise<DirectorySource> | undefined;
  return {
    read: async (request) => {
      source ??= load();
      return (await source).read(request);
    },
  };
}

/** The directory source the config names. */
export function createDirectorySource(
  config: SourceConfig,
  deps: LdapSourceDeps & { scim?: ScimConfig | undefined } = {},
): DirectorySource {
  switch (config.type) {
    case 'ldap':
      return lazySource(async () => {
        const { LdapSource } = await import('./ldap/source.js');
        return new LdapSource(config, deps);
      });
    case 'ldif':
      return lazySource(async () => {
        const { LdifSource } = await import('./ldif/source.js');
        return new LdifSource(config, deps.clock, deps.logger);
      });
    case 'scim': {
      const scim = deps.scim;
      if (scim === undefined)
        throw new ConfigError('source.type scim needs the scim: section', {
          hint: 'add scim: with tokens or tokenFiles (see config/example.yaml)',
        });
      return lazySource(async () => {
        const { ScimSource } = await import('../scim/source.js');
        return new ScimSource(scim, deps.clock, deps.logger);
      });
    }
  }
}

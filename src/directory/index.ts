import type { ScimConfig } from '../config/schema.js';
import type { SourceConfig } from '../config/source.js';
import { ConfigError } from '../errors.js';
import { ScimSource } from '../scim/source.js';
import { LdapSource, type LdapSourceDeps } from './ldap/source.js';
import { LdifSource } from './ldif/source.js';
import type { DirectorySource } from './model.js';

export type { DirectorySnapshot, DirectorySource, DirectoryUser, ReadRequest } from './model.js';

/** The directory source the config names. */
export function createDirectorySource(
  config: SourceConfig,
  deps: LdapSourceDeps & { scim?: ScimConfig | undefined } = {},
): DirectorySource {
  switch (config.type) {
    case 'ldap':
      return new LdapSource(config, deps);
    case 'ldif':
      return new LdifSource(config, deps.clock, deps.logger);
    case 'scim':
      if (deps.scim === undefined)
        throw new ConfigError('source.type scim needs the scim: section', {
          hint: 'add scim: with tokens or tokenFiles (see config/example.yaml)',
        });
      return new ScimSource(deps.scim, deps.clock, deps.logger);
  }
}

import type { SourceConfig } from '../config/source.js';
import { LdapSource, type LdapSourceDeps } from './ldap/source.js';
import { LdifSource } from './ldif/source.js';
import type { DirectorySource } from './model.js';

export type { DirectorySnapshot, DirectorySource, DirectoryUser, ReadRequest } from './model.js';

/** The directory source the config names. */
export function createDirectorySource(
  config: SourceConfig,
  deps: LdapSourceDeps = {},
): DirectorySource {
  return config.type === 'ldap'
    ? new LdapSource(config, deps)
    : new LdifSource(config, deps.clock, deps.logger);
}

import type { Config } from './schema.js';

/** A setting that weakens security: logged as a warning on every run, naming its key. */
export interface InsecureSetting {
  /** The config key, as written in the file (`source.tls.rejectUnauthorized`). */
  key: string;
  message: string;
}

/**
 * The settings in `config` that turn a protection off. They are allowed (labs need them) but
 * never quiet: every run says so, so that a lab setting copied into production is noticed.
 */
export function insecureSettings(config: Config): InsecureSetting[] {
  const found: InsecureSetting[] = [];
  const source = config.source;
  if (source.type === 'ldap' && !source.tls.rejectUnauthorized) {
    found.push({
      key: 'source.tls.rejectUnauthorized',
      message:
        "source.tls.rejectUnauthorized is false: the LDAP servers' certificates are not verified, so anyone on the path can read the bind password and forge the directory; trust the servers' CA with source.tls.caFile instead",
    });
  }
  return found;
}

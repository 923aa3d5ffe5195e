import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { filterProblem } from '../directory/filter.js';
import { ConfigError } from '../errors.js';
import { plainBindExposed, plainHttpExposed } from '../loopback.js';
import {
  formatPath,
  formatWhere,
  issueMessage,
  readStructuredSource,
  valueAt,
  type LineOf,
} from './file.js';
import { Config } from './schema.js';

/** Secrets read from `${ENV}`, `*File` keys or inline values; never part of what is printed. */
export interface Secrets {
  bindPassword: string | undefined;
  token: string;
  /** The SCIM listener's bearer tokens (scim.tokens and scim.tokenFiles), when scim: is set. */
  scimTokens?: string[];
}

export interface LoadedConfig {
  config: Config;
  secrets: Secrets;
  path: string;
  /** The line each key is written on in the file (YAML), for messages about the keys. */
  lineOf?: LineOf;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Replaces `${NAME}` in every string value; an unset variable is an error naming the key. */
export function expandEnv(value: unknown, env: Env, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        throw new ConfigError(
          `config key ${formatPath(path)} refers to \${${name}}, which is not set`,
          {
            hint: `set the environment variable ${name}, or write the value into the config`,
          },
        );
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, [...path, k])]),
    );
  }
  return value;
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The keys a (possibly wrapped) object schema accepts at `path` in `data`. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let current: z.ZodType = schema;
  let value: unknown = data;
  const unwrap = (s: z.ZodType): z.ZodType => {
    let t = s;
    while (t instanceof z.ZodDefault || t instanceof z.ZodOptional) t = t.unwrap() as z.ZodType;
    return t;
  };
  for (const part of [...path, null]) {
    current = unwrap(current);
    if (current instanceof z.ZodDiscriminatedUnion) {
      const type = (value as { type?: unknown } | undefined)?.type;
      const option = (current.options as z.ZodType[]).find(
        (o) =>
          o instanceof z.ZodObject &&
          (o.shape as Record<string, z.ZodType>)['type']?.safeParse(type).success,
      );
      if (option === undefined) return [];
      current = option;
    }
    if (part === null) break;
    if (current instanceof z.ZodObject)
      current = (current.shape as Record<string, z.ZodType>)[String(part)] ?? z.never();
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return [];
    value = (value as Record<PropertyKey, unknown> | undefined)?.[part];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/**
 * Problems the schema cannot see: LDAP filters that do not parse. Found here, a bad filter is a
 * config error naming its key, not a failed search against the server. Read from the data as
 * written, so that a bad filter is listed with the schema's own problems, not after they are
 * fixed.
 */
function filterProblems(data: unknown): { path: string[]; message: string }[] {
  const found: { path: string[]; message: string }[] = [];
  for (const part of ['users', 'groups'] as const) {
    const path = ['source', part, 'filter'];
    const filter = valueAt(data, path);
    // Not text, or empty: the schema says so.
    const problem =
      typeof filter === 'string' && filter.trim() !== '' ? filterProblem(filter.trim()) : undefined;
    if (problem !== undefined) found.push({ path, message: `not a valid LDAP filter: ${problem}` });
  }
  return found;
}

/**
 * Validates a config object; every problem names its key path, the line it is on (when
 * `lineOf` knows it) and what is allowed.
 */
export function parseConfig(data: unknown, path: string, lineOf?: LineOf): Config {
  const result = Config.safeParse(data);
  const filters = filterProblems(data).map((p) => `  ${formatWhere(p.path, lineOf)}: ${p.message}`);
  let lines: string[];
  if (result.success) {
    if (filters.length === 0) return result.data;
    lines = [];
  } else {
    lines = result.error.issues.slice(0, 12).map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const known = knownKeys(Config, issue.path, data);
        return issue.keys
          .map((key) => {
            const where = formatWhere([...issue.path, key], lineOf);
            const close = known
              .map((k) => ({ k, d: levenshtein(k.toLowerCase(), key.toLowerCase()) }))
              .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 3)))
              .sort((a, b) => a.d - b.d)[0];
            const hint =
              close === undefined
                ? `allowed here: ${known.join(', ')}`
                : `did you mean ${close.k}?`;
            return `  ${where}: unknown key; ${hint}`;
          })
          .join('\n');
      }
      return `  ${formatWhere(issue.path, lineOf)}: ${issueMessage(issue, data)}`;
    });
  }
  lines.push(...filters);
  throw new ConfigError(`config ${path} is invalid:\n${lines.join('\n')}`, {
    hint: `correct the keys named above in ${path}; \`dirsync config schema\` prints every key`,
  });
}

function readSecretFile(file: string, key: string, baseDir: string): string {
  const full = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    return readFileSync(full, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError(
      `config key ${key} names ${full}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      {
        cause: error,
        hint: `create ${full} holding the secret, or fix ${key}`,
      },
    );
  }
}

/**
 * A CA file that can be read and holds at least one PEM certificate, each of which parses.
 */
function checkCaFile(file: string, path: string[], lineOf: LineOf): void {
  const key = path.join('.');
  const where = formatWhere(path, lineOf);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `config key ${where} names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { hint: `point ${key} at the PEM file of the CA certificate, readable by dirsync` },
    );
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const fix = `point ${key} at the CA certificate in PEM form (a DER .cer converts with: openssl x509 -inform der -in ca.cer -out ca.pem)`;
  if (blocks.length === 0)
    throw new ConfigError(
      `config key ${where} names ${file}, which holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)`,
      { hint: fix },
    );
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError(
        `config key ${where} names ${file}, whose certificate ${i + 1} of ${blocks.length} does not parse`,
        { hint: fix },
      );
    }
  });
}

/**
 * Loads the config: YAML, `${ENV}` expanded, validated, and the secrets resolved from
 * `bindPasswordFile` / `tokenFile` (relative to the config file) or inline values.
 */
export function loadConfig(path: string, env: Env): LoadedConfig {
  const file = readStructuredSource(path, 'config');
  const config = parseConfig(expandEnv(file.data, env), path, file.lineOf);
  const baseDir = dirname(resolve(path));
  let token = config.api.token;
  if (config.api.tokenFile !== undefined) {
    if (token !== undefined)
      throw new ConfigError(`config ${path}: api.token and api.tokenFile are both set`, {
        hint: 'keep one of them',
      });
    token = readSecretFile(config.api.tokenFile, 'api.tokenFile', baseDir);
  }
  if (token === undefined || token === '') {
    throw new ConfigError(`config ${path}: api.token or api.tokenFile is required`, {
      hint: 'set api.tokenFile to a file holding the token, or api.token: ${DIRSYNC_API_TOKEN}',
    });
  }
  let bindPassword: string | undefined;
  if (config.source.type === 'ldap') {
    bindPassword = config.source.bindPassword;
    if (config.source.bindPasswordFile !== undefined) {
      if (bindPassword !== undefined) {
        throw new ConfigError(
          `config ${path}: source.bindPassword and source.bindPasswordFile are both set`,
          { hint: 'keep one of them' },
        );
      }
      bindPassword = readSecretFile(
        config.source.bindPasswordFile,
        'source.bindPasswordFile',
        baseDir,
      );
    }
    if (config.source.bindDn !== undefined && bindPassword === undefined) {
      throw new ConfigError(`config ${path}: source.bindDn is set but no password is`, {
        hint: 'set source.bindPasswordFile (or source.bindPassword: ${LDAP_PASSWORD})',
      });
    }
  }
  // Every relative path in the config is relative to the config file, not to the working folder.
  const here = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  if (config.source.type === 'ldif') config.source.file = here(config.source.file);
  else if (config.source.type === 'ldap' && config.source.tls.caFile !== undefined)
    config.source.tls.caFile = here(config.source.tls.caFile);
  if (config.api.tls.caFile !== undefined) config.api.tls.caFile = here(config.api.tls.caFile);
  config.state.path = here(config.state.path);
  if (config.audit.path !== undefined) config.audit.path = here(config.audit.path);
  for (const w of config.notify.webhooks) if (w.urlFile !== undefined) w.urlFile = here(w.urlFile);
  let scimTokens: string[] | undefined;
  if (config.scim !== undefined) {
    const scim = config.scim;
    scim.store.path = here(scim.store.path);
    if (scim.certFile !== undefined) scim.certFile = here(scim.certFile);
    if (scim.keyFile !== undefined) scim.keyFile = here(scim.keyFile);
    scimTokens = [
      ...scim.tokens,
      ...scim.tokenFiles.map((f, i) => readSecretFile(f, `scim.tokenFiles[${i}]`, baseDir)),
    ];
    if (config.source.type === 'scim' && scimTokens.length === 0)
      throw new ConfigError(`config ${path}: source.type scim needs a SCIM bearer token`, {
        hint: 'set scim.tokenFiles to a file holding a long random token (e.g. openssl rand -hex 32), or scim.tokens: [${DIRSYNC_SCIM_TOKEN}]',
      });
    if (scimTokens.some((t) => t.length < 16))
      throw new ConfigError(
        `config ${path}: a file in scim.tokenFiles holds a token shorter than 16 characters`,
        { hint: 'use a long random token, e.g. openssl rand -hex 32' },
      );
    if ((scim.certFile === undefined) !== (scim.keyFile === undefined))
      throw new ConfigError(`config ${path}: scim.certFile and scim.keyFile go together`, {
        hint: 'set both (TLS on the SCIM listener) or neither (plain HTTP behind an ingress)',
      });
  }
  return {
    config,
    secrets: { bindPassword, token, ...(scimTokens === undefined ? {} : { scimTokens }) },
    path,
    lineOf: file.lineOf,
  };
}

/**
 * What a run would refuse only when it connects: a password or token sent in clear across a
 * network (loopback.ts's rule, which the LDAP connection and the API client apply).
 */
function checkPlaintext(config: Config, lineOf: LineOf): void {
  const source = config.source;
  if (source.type === 'ldap')
    source.urls.forEach((url, i) => {
      if (plainBindExposed(url, source))
        throw new ConfigError(
          `config key ${formatWhere(['source', 'urls', i], lineOf)} is plain ${url}: a simple bind would send the password across the network unencrypted`,
          {
            hint: 'use an ldaps:// URL, or set source.startTls: true; source.allowPlaintextBind: true is for a lab network you trust',
          },
        );
    });
  if (plainHttpExposed(config.api.baseUrl, config.api.allowPlaintext))
    throw new ConfigError(
      `config key ${formatWhere(['api', 'baseUrl'], lineOf)} is plain http: the token would cross the network unencrypted`,
      { hint: 'use https://, or set api.allowPlaintext: true for a lab network you trust' },
    );
}

/**
 * What a run finds wrong only when it connects: the CA files the config names (read, PEM,
 * parsing) and plain-text URLs it would refuse. Checked by `check` and `config validate` before
 * they call the config valid, so that "valid" never hides a CA file the first TLS connection
 * would fail on, or a URL the connection would refuse. Paths are those of a loaded config
 * (absolute).
 */
export function checkConfigFiles(loaded: Pick<LoadedConfig, 'config' | 'lineOf'>): void {
  const { config } = loaded;
  const lineOf = loaded.lineOf ?? ((): undefined => undefined);
  checkPlaintext(config, lineOf);
  if (config.source.type === 'ldap' && config.source.tls.caFile !== undefined)
    checkCaFile(config.source.tls.caFile, ['source', 'tls', 'caFile'], lineOf);
  if (config.api.tls.caFile !== undefined)
    checkCaFile(config.api.tls.caFile, ['api', 'tls', 'caFile'], lineOf);
}

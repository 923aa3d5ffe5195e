import { z } from 'zod';
import { parseWith, readStructuredFile } from '../config/file.js';
import { ConfigError } from '../errors.js';

import { AdStatus, Rank, UserTag as Tag } from '../api/schema.js';

// The contract's enums, one definition (api/schema.ts) for the client and the mock.
export { AdStatus, Rank, Tag };

export const SeedSmartcard = z.strictObject({
  number: z.string().regex(/^\d+$/, 'a smart card number is a string of digits'),
  label: z.string().default(''),
});

const timestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'expected "YYYY-MM-DD hh:mm:ss"');

export const SeedUser = z.strictObject({
  email: z.email(),
  first_name: z.string().default(''),
  last_name: z.string().default(''),
  username: z.string().optional(),
  rank: Rank.default('REGULAR'),
  tag: Tag.default('USER'),
  ad_status: AdStatus.default('ACTIVE'),
  email_status: z.string().default('CONFIRMED'),
  unique_id: z.string().optional(),
  computer_usernames: z.array(z.string().min(1)).default([]),
  smartcards: z.array(SeedSmartcard).default([]),
  groups: z.array(z.string()).default([]),
  policies: z.array(z.string()).default([]),
  created: timestamp.optional(),
  confirmed: timestamp.optional(),
  active_date: timestamp.optional(),
  device_added: timestamp.optional(),
});
export type SeedUser = z.infer<typeof SeedUser>;

export const SeedOrganization = z.strictObject({
  name: z.string().min(1),
  tokens: z.array(z.strictObject({ token: z.string().min(1), email: z.email() })).default([]),
  users: z.array(SeedUser).default([]),
});
export type SeedOrganization = z.infer<typeof SeedOrganization>;

export const Seed = z.strictObject({
  organizations: z.array(SeedOrganization).min(1, 'at least one organization is needed'),
});
export type Seed = z.infer<typeof Seed>;
export type SeedInput = z.input<typeof Seed>;

/**
 * Validates a seed beyond its shape: unique emails per organization, unique tokens, and every
 * token belonging to a user of its organization. `source` names the file in messages.
 */
export function parseSeed(data: unknown, source: string): Seed {
  const seed = parseWith(Seed, data, source, 'seed file');
  const tokens = new Set<string>();
  seed.organizations.forEach((org, o) => {
    const emails = new Set<string>();
    org.users.forEach((user, u) => {
      const key = user.email.toLowerCase();
      if (emails.has(key)) {
        throw seedError(
          source,
          `organizations[${o}].users[${u}].email`,
          `${user.email} appears twice in organization ${org.name}`,
        );
      }
      emails.add(key);
    });
    org.tokens.forEach((t, i) => {
      if (tokens.has(t.token)) {
        throw seedError(
          source,
          `organizations[${o}].tokens[${i}].token`,
          'this token is already used by another entry',
        );
      }
      tokens.add(t.token);
      if (!emails.has(t.email.toLowerCase())) {
        throw seedError(
          source,
          `organizations[${o}].tokens[${i}].email`,
          `${t.email} is not a user of organization ${org.name}`,
        );
      }
    });
  });
  return seed;
}

function seedError(source: string, key: string, problem: string): ConfigError {
  return new ConfigError(`seed file ${source} is invalid:\n  ${key}: ${problem}`, {
    hint: `correct ${key} in ${source}`,
  });
}

export function loadSeedFile(path: string): Seed {
  return parseSeed(readStructuredFile(path, 'seed file'), path);
}

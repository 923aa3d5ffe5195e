import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ScimConfig } from '../../../src/config/schema.js';
import { isKnown } from '../../../src/directory/model.js';
import { createLogger, type Logger } from '../../../src/log.js';
import { ScimService } from '../../../src/scim/service.js';
import { ScimSource } from '../../../src/scim/source.js';
import { SqliteScimStore } from '../../../src/scim/store.js';
import { aScimUser, DIRSYNC, ENTERPRISE, USER } from './builders.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CARD_PATH = `${ENTERPRISE}:employeeNumber`;

/** A SCIM source over a store holding `users`, pushed through the service. */
function sourceWith(users: Record<string, unknown>[], logger?: Logger): ScimSource {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-scim-unusable-'));
  dirs.push(dir);
  const config = ScimConfig.parse({
    tokens: ['0123456789abcdef0123'],
    store: { path: join(dir, 'scim.sqlite') },
    attributes: { smartcards: CARD_PATH },
  });
  const store = SqliteScimStore.open(config.store.path);
  let n = 0;
  const service = new ScimService({ store, baseUrl: 'http://x', newId: () => `id${++n}` });
  for (const body of users) {
    const res = service.handle({
      method: 'POST',
      path: '/Users',
      query: new URLSearchParams(),
      body,
    });
    if (res.status >= 300) throw new Error(JSON.stringify(res.body));
  }
  store.close();
  return new ScimSource(config, () => new Date('2026-01-01T00:00:00Z'), logger);
}

describe('SCIM values dirsync cannot use (issue 11 item 2)', () => {
  it('makes the cards unknown for employeeNumber AB-77, never empty', async () => {
    const source = sourceWith([
      aScimUser('ann@corp.test', {
        schemas: [USER, ENTERPRISE],
        [ENTERPRISE]: { employeeNumber: 'AB-77' },
      }),
    ]);

    const snapshot = await source.read({ groupsOfInterest: [] });

    const ann = snapshot.users[0]!;
    expect(isKnown(ann, 'smartcards')).toBe(false);
    expect(ann.problems).toEqual([
      {
        field: 'smartcards',
        attribute: CARD_PATH,
        value: 'AB-77',
        problem: 'is not a string of digits',
      },
    ]);
    expect(snapshot.warnings.map((w) => w.message)).toEqual([
      `SCIM user id1: ${CARD_PATH} value "AB-77" is not a string of digits: the organization's smart cards are left as they are`,
    ]);
  });

  it('logs each value it cannot use, as the LDAP and LDIF sources do', async () => {
    // Arrange
    let logged = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    const source = sourceWith(
      [
        aScimUser('ann@corp.test', {
          schemas: [USER, ENTERPRISE],
          [ENTERPRISE]: { employeeNumber: 'AB-77' },
        }),
      ],
      createLogger({ level: 'warn', format: 'json', stream }),
    );

    // Act
    await source.read({ groupsOfInterest: [] });

    // Assert
    expect(logged).toContain('AB-77');
    expect(logged).toContain('SCIM user id1');
  });

  it('makes the logins unknown for a login name with ESC and a newline', async () => {
    const source = sourceWith([
      aScimUser('ann@corp.test', {
        schemas: [USER, DIRSYNC],
        [DIRSYNC]: { loginName: 'ann\u001b[2K\nroot' },
      }),
    ]);

    const [ann] = (await source.read({ groupsOfInterest: [] })).users;

    expect(ann !== undefined && isKnown(ann, 'logins')).toBe(false);
    expect(ann?.problems?.[0]).toMatchObject({
      field: 'logins',
      value: 'ann\\x1b[2K\\nroot',
      problem: 'holds a control character',
    });
  });

  it('skips a user whose only address is malformed, and lists it as unusable', async () => {
    const source = sourceWith([
      aScimUser('bob', { emails: [{ type: 'work', value: 'bob @corp.test', primary: true }] }),
      aScimUser('ann@corp.test'),
    ]);

    const snapshot = await source.read({ groupsOfInterest: [] });

    expect(snapshot.users.map((u) => u.email)).toEqual(['ann@corp.test']);
    expect(snapshot.unusable).toEqual([
      {
        dn: 'bob',
        problems: expect.arrayContaining([
          expect.objectContaining({ field: 'email', value: 'bob @corp.test' }),
        ]) as unknown,
      },
    ]);
  });
});

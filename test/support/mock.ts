import { request } from 'undici';
import { parseSeed, type SeedInput } from '../../src/mock/seed.js';
import { parseFaults } from '../../src/mock/faults.js';
import { startMockServer, type MockServer } from '../../src/mock/server.js';

export type SeedUserInput = NonNullable<SeedInput['organizations'][number]['users']>[number];

/** A seed user with sensible defaults; override what the test is about. */
export function aSeedUser(overrides: Partial<SeedUserInput> & { email: string }): SeedUserInput {
  return { first_name: 'Test', last_name: 'User', ...overrides };
}

export const SUPER_TOKEN = 'super-token';
export const ADMIN_TOKEN = 'admin-token';
export const REGULAR_TOKEN = 'regular-token';
export const OTHER_ORG_TOKEN = 'other-org-token';

export interface SeedOptions {
  /** The three callers' tokens (default SUPER_TOKEN, ADMIN_TOKEN, REGULAR_TOKEN). */
  tokens?: { super: string; admin: string; regular: string };
  /** Add the second organization `other` (default true). */
  otherOrganization?: boolean;
}

/** `corp` with a SUPER, an ADMIN and a REGULAR caller, and (unless told otherwise) `other`. */
export function aSeed(extraUsers: SeedUserInput[] = [], options: SeedOptions = {}): SeedInput {
  const tokens = options.tokens ?? {
    super: SUPER_TOKEN,
    admin: ADMIN_TOKEN,
    regular: REGULAR_TOKEN,
  };
  const corp = {
    name: 'corp',
    tokens: [
      { token: tokens.super, email: 'owner@corp.example.com' },
      { token: tokens.admin, email: 'admin@corp.example.com' },
      { token: tokens.regular, email: 'reader@corp.example.com' },
    ],
    users: [
      aSeedUser({
        email: 'owner@corp.example.com',
        first_name: 'Olga',
        last_name: 'Owner',
        rank: 'SUPER',
      }),
      aSeedUser({
        email: 'admin@corp.example.com',
        first_name: 'Alan',
        last_name: 'Admin',
        rank: 'ADMIN',
      }),
      aSeedUser({ email: 'reader@corp.example.com', first_name: 'Rita', last_name: 'Reader' }),
      ...extraUsers,
    ],
  };
  const other = {
    name: 'other',
    tokens: [{ token: OTHER_ORG_TOKEN, email: 'owner@other.example.org' }],
    users: [
      aSeedUser({ email: 'owner@other.example.org', rank: 'SUPER' }),
      aSeedUser({ email: 'joe@corp.example.com', first_name: 'Joe', last_name: 'Elsewhere' }),
    ],
  };
  return { organizations: options.otherOrganization === false ? [corp] : [corp, other] };
}

export async function startTestMock(
  seed: SeedInput = aSeed(),
  faults?: unknown,
): Promise<MockServer> {
  return startMockServer({
    seed: parseSeed(seed, 'test seed'),
    faults: faults === undefined ? undefined : parseFaults(faults, 'test faults'),
    port: 0,
  });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A raw HTTP caller for contract tests: it sends exactly what it is told. */
export class RawClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  withToken(token: string | undefined): RawClient {
    return new RawClient(this.baseUrl, token);
  }

  get(path: string, query: Record<string, string> = {}): Promise<Answer> {
    return this.send('GET', `${path}?${new URLSearchParams(query).toString()}`);
  }

  delete(path: string, query: Record<string, string> = {}): Promise<Answer> {
    return this.send('DELETE', `${path}?${new URLSearchParams(query).toString()}`);
  }

  /** Form-encoded POST; array values are sent as JSON strings, as the contract says. */
  postForm(path: string, params: Record<string, unknown>): Promise<Answer> {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(params))
      form.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    return this.send('POST', path, form.toString(), 'application/x-www-form-urlencoded');
  }

  postJson(path: string, params: Record<string, unknown>): Promise<Answer> {
    return this.send('POST', path, JSON.stringify(params), 'application/json');
  }

  async send(method: string, path: string, body?: string, contentType?: string): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    if (contentType !== undefined) headers['content-type'] = contentType;
    const res = await request(`${this.baseUrl}${path}`, {
      method: method as 'GET',
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  }
}

export interface StateUser {
  email: string;
  email_id: number;
  user_id: number;
  rank: string;
  tag: string;
  ad_status: string;
  computer_usernames: string[];
  smartcards: { number: string; label: string }[];
}

/** The mock's whole state, through its test surface. */
export async function mockState(
  baseUrl: string,
): Promise<{ organizations: { name: string; users: StateUser[] }[] }> {
  const res = await request(`${baseUrl}/_mock/state`);
  return (await res.body.json()) as { organizations: { name: string; users: StateUser[] }[] };
}

export async function stateUser(
  baseUrl: string,
  email: string,
  org = 'corp',
): Promise<StateUser | undefined> {
  const state = await mockState(baseUrl);
  return state.organizations.find((o) => o.name === org)?.users.find((u) => u.email === email);
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent, EnvHttpProxyAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../../src/api/client.js';
import { createDispatcher, DEFAULT_TIMEOUTS, proxySettingsFrom } from '../../../src/api/http.js';
import { ConfigError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { isLoopback } from '../../../src/loopback.js';

describe('proxySettingsFrom', () => {
  it.each([
    [{}, { httpProxy: '', httpsProxy: '', noProxy: '' }],
    [
      { HTTP_PROXY: 'http://p:3128', HTTPS_PROXY: 'http://s:3128', NO_PROXY: 'corp' },
      { httpProxy: 'http://p:3128', httpsProxy: 'http://s:3128', noProxy: 'corp' },
    ],
    [
      { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' },
      { httpProxy: '', httpsProxy: 'http://lower:1', noProxy: '' },
    ],
    [
      { no_proxy: ' .corp.example.com ' },
      { httpProxy: '', httpsProxy: '', noProxy: '.corp.example.com' },
    ],
  ])('%j', (env, expected) => {
    expect(proxySettingsFrom(env)).toEqual(expected);
  });
});

describe('createDispatcher', () => {
  const base = { connections: 4, timeouts: DEFAULT_TIMEOUTS };

  it('is a plain keep-alive Agent without proxy variables', async () => {
    const d = createDispatcher({ ...base, env: { NO_PROXY: 'x' } });
    expect(d).toBeInstanceOf(Agent);
    await d.close();
  });

  it('routes through EnvHttpProxyAgent when a proxy is set', async () => {
    const d = createDispatcher({ ...base, env: { HTTPS_PROXY: 'http://127.0.0.1:3128' } });
    expect(d).toBeInstanceOf(EnvHttpProxyAgent);
    await d.close();
  });

  it.each([
    'http://127.0.0.1:8080',
    'http://localhost:8080',
    'http://[::1]:8080',
    'https://127.0.0.2',
  ])('never routes loopback %s through a proxy, whatever the environment says', async (url) => {
    const d = createDispatcher({
      ...base,
      origin: new URL(url),
      env: { HTTP_PROXY: 'http://10.0.0.1:3128', HTTPS_PROXY: 'http://10.0.0.1:3128' },
    });
    expect(d).toBeInstanceOf(Agent);
    expect(d).not.toBeInstanceOf(EnvHttpProxyAgent);
    await d.close();
  });

  it('still routes a loopback-looking name through the proxy', async () => {
    const d = createDispatcher({
      ...base,
      origin: new URL('http://127.0.0.1.nip.io'),
      env: { HTTP_PROXY: 'http://10.0.0.1:3128' },
    });
    expect(d).toBeInstanceOf(EnvHttpProxyAgent);
    await d.close();
  });

  it('refuses a caFile that holds no certificate, saying what to do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-ca-'));
    const file = join(dir, 'ca.pem');
    writeFileSync(file, 'not a certificate');
    expect(() => createDispatcher({ ...base, env: {}, caFile: file })).toThrow(ConfigError);
    expect(() => createDispatcher({ ...base, env: {}, caFile: join(dir, 'none.pem') })).toThrow(
      /cannot be read \(ENOENT\)/,
    );
  });
});

describe('isLoopback', () => {
  // Hostnames as the URL parser gives them.
  const host = (url: string): string => new URL(url).hostname;

  it.each([
    'http://127.0.0.1',
    'http://127.1',
    'http://2130706433',
    'http://0x7f.0.0.1',
    'http://127.255.255.254',
    'http://[::1]',
    'http://[0:0:0:0:0:0:0:1]',
    'http://[::ffff:127.0.0.1]',
    'http://localhost',
    'http://LOCALHOST',
  ])('%s is loopback', (url) => {
    expect(isLoopback(host(url))).toBe(true);
  });

  it.each([
    'http://127.0.0.1.nip.io',
    'http://127.example.com',
    'http://localhost.',
    'http://localhost.example.com',
    'http://my-localhost',
    'http://128.0.0.1',
    'http://10.0.0.1',
    'http://0.0.0.0',
    'http://[::]',
    'http://[::2]',
    'http://[::ffff:10.0.0.1]',
  ])('%s is not loopback', (url) => {
    expect(isLoopback(host(url))).toBe(false);
  });
});

describe('ApiClient settings', () => {
  it.each([
    ['not a url', /not a URL/],
    ['ftp://api.example.com', /must be http\(s\)/],
    ['https://user:pw@api.example.com', /credentials/],
  ])('refuses baseUrl %s', (baseUrl, message) => {
    expect(() => new ApiClient({ baseUrl, token: 't', env: {} })).toThrow(message);
  });

  it('refuses a concurrency below 1 as a configuration error', () => {
    expect(
      () => new ApiClient({ baseUrl: 'https://api.example.com', token: 't', concurrency: 0 }),
    ).toThrow(ConfigError);
  });

  it('refuses plain http to a host other than loopback unless allowPlaintext', () => {
    expect(() => new ApiClient({ baseUrl: 'http://api.example.com', token: 't', env: {} })).toThrow(
      /api.baseUrl http:\/\/api.example.com is plain http/,
    );
  });

  it.each(['http://127.0.0.1.nip.io', 'http://127.0.0.1.attacker.example:8080'])(
    'refuses plain http to %s, a name that only looks like loopback',
    (baseUrl) => {
      expect(() => new ApiClient({ baseUrl, token: 't', env: {} })).toThrow(/is plain http/);
    },
  );

  it('warns when the token would cross the network in plain http (allowPlaintext)', async () => {
    let output = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        output += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ format: 'json', stream });
    const remote = new ApiClient({
      baseUrl: 'http://api.example.com',
      token: 't',
      env: {},
      logger,
      allowPlaintext: true,
    });
    const local = new ApiClient({ baseUrl: 'http://127.0.0.1:8080', token: 't', env: {}, logger });
    await new Promise((resolve) => setImmediate(resolve));
    await remote.close();
    await local.close();

    expect(output.match(/plain http/g)).toHaveLength(1);
    expect(output).toContain('http://api.example.com');
  });
});

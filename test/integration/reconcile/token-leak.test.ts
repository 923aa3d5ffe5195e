import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_CHARS } from '../../../src/api/transport.js';
import { openRunContext } from '../../../src/cli/context.js';
import { applyRun } from '../../../src/reconcile/run.js';
import { leakedPieces } from '../../support/secrets.js';

const TOKEN = 'tok-4f9a2c7e1b3d8a6f5e0c';

/**
 * A Users API that lists one user and answers every write with an error page echoing the
 * token it was sent, placed so that it straddles the 300-character cut of a quoted answer.
 */
async function echoingApi(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/multipleusers') {
      return json(
        url.searchParams.get('user_tag') === 'GUEST'
          ? []
          : [
              {
                email: 'joe@corp.example.com',
                email_id: 11,
                user_id: 5011,
                first_name: 'Joe',
                last_name: 'Dev',
                ad_status: 'ACTIVE',
              },
            ],
      );
    }
    if (req.method === 'GET' && url.pathname === '/user')
      return json({ policies: [], computer_usernames: ['old'], smartcards: [] });
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const before = 'x'.repeat(MAX_MESSAGE_CHARS - 8 - '<pre>'.length);
    res
      .writeHead(400, { 'content-type': 'text/html' })
      .end(`<pre>${before}${token}</pre>${'y'.repeat(100)}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let api: { server: Server; url: string } | undefined;
const dirs: string[] = [];
afterEach(async () => {
  api?.server.closeAllConnections();
  await new Promise((resolve) => api?.server.close(resolve) ?? resolve(undefined));
  api = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('a token echoed in an error page', () => {
  it('shows in no part in the logs, the run report or the apply result', async () => {
    api = await echoingApi();
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-leak-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'directory.ldif'),
      `version: 1

dn: uid=jdev,ou=People,dc=corp,dc=example,dc=com
objectClass: inetOrgPerson
uid: jdev
cn: Joe Dev
sn: Dev
mail: joe@corp.example.com
`,
    );
    const config = join(dir, 'dirsync.yaml');
    writeFileSync(
      config,
      `source: { type: ldif, file: directory.ldif }
api: { baseUrl: ${api.url}, token: ${TOKEN} }
rules:
  scope: { emailDomains: [corp.example.com] }
  ranks: { manage: false }
  promoteGuests: { enabled: false }
  removed: { action: ignore }
state: { path: ${join(dir, 'state', 'dirsync.json')} }
log: { level: debug, format: json }
`,
    );
    const stderr = new PassThrough();
    let logs = '';
    stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));

    const run = openRunContext(config, {}, stderr, { lock: true });
    const { report, reportFile } = await applyRun(run.deps, { runId: 'leak' }).finally(() =>
      run.close(),
    );
    await new Promise((resolve) => setImmediate(resolve));

    expect(report.failures).toHaveLength(1);
    // Where the token was, the cut now falls inside the redaction mark.
    expect(report.failures[0]?.error).toMatch(/<pre>x+\[redact/);
    const everything = [logs, readFileSync(reportFile, 'utf8'), JSON.stringify(report)].join('\n');
    expect(leakedPieces(everything, TOKEN)).toEqual([]);
  });
});

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface ForwardingProxyOptions {
  /**
   * Where a CONNECT for `host:port` goes, or undefined to refuse it (403). Tests map only to
   * loopback, so nothing leaves the machine whatever the client asks for.
   */
  route(host: string, port: number): ProxyTarget | undefined;
  /**
   * When set, the proxy inspects TLS as corporate proxies do: it answers the client's TLS
   * handshake itself with this certificate and forwards the decrypted bytes to the target.
   */
  inspectWith?: { key: string; cert: string };
}

export interface ForwardingProxy {
  url: string;
  /** Every CONNECT target asked for, in order (`host:port`). */
  connects: string[];
  close(): Promise<void>;
}

/** A small HTTP CONNECT proxy on 127.0.0.1 for tests. */
export async function startForwardingProxy(
  options: ForwardingProxyOptions,
): Promise<ForwardingProxy> {
  const connects: string[] = [];
  const sockets = new Set<Duplex>();
  const track = (s: Duplex): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };

  const server = createServer((_req, res) => {
    res
      .writeHead(405, { 'content-type': 'text/plain' })
      .end('this test proxy only tunnels (CONNECT)');
  });
  server.on('connection', track);
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const authority = req.url ?? '';
    connects.push(authority);
    const match = /^(.+):(\d+)$/.exec(authority);
    const target = match?.[1] === undefined ? undefined : options.route(match[1], Number(match[2]));
    if (target === undefined) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream: Socket = connect(target.port, target.host);
    track(upstream);
    const fail = (): void => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', fail);
    client.on('error', fail);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) client.unshift(head);
      let downstream: Duplex = client;
      if (options.inspectWith !== undefined) {
        const tls = new TLSSocket(client, { isServer: true, ...options.inspectWith });
        tls.on('error', fail);
        track(tls);
        downstream = tls;
      }
      downstream.pipe(upstream).pipe(downstream);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

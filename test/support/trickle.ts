import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request the trickling server saw. */
export interface SeenRequest {
  method: string;
  url: string;
}

export interface TrickleServer {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1, port 0, that answers every request 200 at once and then sends its
 * JSON body one byte every `everyMs`, never finishing: the silence between bytes stays far under
 * any body timeout, so only a whole-request deadline or a stop ends the request.
 */
export async function startTrickleServer(everyMs = 200): Promise<TrickleServer> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    const timer = setInterval(() => res.write(' '), everyMs);
    timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

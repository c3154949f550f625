import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A started HTTP server that only answers a token holder (the teleop page, the dashboard). */
export interface LocalServer {
  readonly http: Server;
  readonly token: string;
  /** `http://host:port/?token=…`: the address a person opens. */
  readonly url: string;
  /** Whether the request carries the token (`?token=`), compared in constant time. */
  authorized(req: IncomingMessage): boolean;
}

/**
 * Starts an HTTP server for a page people open in a browser: 127.0.0.1 and a free port unless
 * told otherwise, and a 128-bit random token (unless given) that every request must carry.
 */
export async function openLocalServer(options: { host?: string; port?: number; token?: string } = {}): Promise<LocalServer> {
  const token = options.token ?? randomBytes(16).toString('hex');
  const host = options.host ?? '127.0.0.1';
  const http = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const expected = Buffer.from(token);
  return {
    http,
    token,
    url: `http://${shown}:${port}/?token=${token}`,
    authorized(req) {
      const given = Buffer.from(new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

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
      // A target that is not a URL carries no token (and must not throw in a request handler).
      let given: Buffer;
      try {
        given = Buffer.from(new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '');
      } catch {
        return false;
      }
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/**
 * A request's path with its segments decoded, or why it is malformed (the caller answers 400).
 * Request handlers parse the target through this and nothing else: `new URL` throws on targets
 * such as `//[::/` and `decodeURIComponent` on a bad %-escape, and a throw in a request or upgrade
 * handler kills the server.
 */
export function requestPath(raw: string | undefined): { readonly pathname: string; readonly segments: readonly string[] } | string {
  const target = raw ?? '/';
  if (!target.startsWith('/')) return 'the request target is not a path';
  let url: URL;
  try {
    url = new URL(target, 'http://x');
  } catch {
    return 'the request target is not a URL';
  }
  if (url.host !== 'x') return 'the request target names a host'; // `//host/…`
  const segments: string[] = [];
  for (const s of url.pathname.split('/').slice(1)) {
    try {
      segments.push(decodeURIComponent(s));
    } catch {
      return 'the path has a malformed %-escape';
    }
  }
  return { pathname: url.pathname, segments };
}

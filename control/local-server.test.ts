import { describe, expect, it } from 'vitest';
import { rawGet } from '../test/raw-http.js';
import { openLocalServer, requestPath } from './local-server.js';

describe('local server', () => {
  it('authorized() reads a target that is not a URL as no token, and the server goes on', async () => {
    const token = 'd'.repeat(32);
    const s = await openLocalServer({ token });
    try {
      // A handler that checks the token first, as any page server may.
      s.http.on('request', (req, res) => void res.writeHead(s.authorized(req) ? 200 : 401).end());
      const base = new URL(s.url);
      expect(await rawGet(base, `//[::/?token=${token}`)).toBe(401);
      expect(await rawGet(base, `/?token=${token}`)).toBe(200);
      expect(await rawGet(base, `/?token=${'e'.repeat(32)}`)).toBe(401);
    } finally {
      await new Promise((r) => s.http.close(r));
    }
  });

  it('requestPath: malformed targets are reasons, not exceptions', () => {
    expect(requestPath('/teleop/run%201/ws?token=x')).toEqual({ pathname: '/teleop/run%201/ws', segments: ['teleop', 'run 1', 'ws'] });
    expect(requestPath(undefined)).toEqual({ pathname: '/', segments: [''] });
    for (const bad of ['//[::/', '//host/x', '/%E0%A4%A', '/%', '*', 'http://x/']) expect(typeof requestPath(bad)).toBe('string');
  });
});

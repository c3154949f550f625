import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { cleanup, ptyPair, until } from '../../test/robot-fixtures.js';
import { SerialLink } from './link.js';

/**
 * A serial link opened on a worker thread (`roborl train --robot`'s actor): the native poller of
 * @serialport/bindings-cpp watches the main thread's loop, so there a read never finished — and
 * a byte arriving made the main thread enter the worker's V8 isolate (a fatal abort, measured).
 */
function onWorker(path: string, script: string): Promise<string[]> {
  const link = JSON.stringify(new URL('./link.ts', import.meta.url).href);
  const code = `
const { parentPort } = require('node:worker_threads');
(async () => {
  const { register } = await import('tsx/esm/api');
  register();
  const { SerialLink } = await import(${link});
  const link = await SerialLink.open({ path: ${JSON.stringify(path)}, baudRate: 1000000, reopenMinMs: 50 });
  const say = (m) => parentPort.postMessage(m);
  ${script}
})().catch((e) => parentPort.postMessage('error: ' + e.message));`;
  const worker = new Worker(code, { eval: true });
  const said: string[] = [];
  worker.on('message', (m: string) => said.push(m));
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', () => resolve(said));
  });
}

describe('a serial link on a worker thread (binding.ts)', () => {
  it('reads and writes over a real pty pair: 50 round trips, each answered', async () => {
    const { host, robot } = await ptyPair();
    const peer = await SerialLink.open({ path: robot });
    cleanup.push(() => peer.close());
    peer.onData = (d) => void peer.write(Buffer.concat([Buffer.from('re:'), d]));
    const said = await onWorker(host, `
  let answered = 0;
  for (let i = 0; i < 50; i++) {
    const got = new Promise((r) => (link.onData = (d) => r(d.toString())));
    link.write(Buffer.from('m' + i));
    const reply = await Promise.race([got, new Promise((r) => setTimeout(() => r(null), 2000))]);
    if (reply === 're:m' + i) answered++;
    else { say('bad reply ' + reply + ' to m' + i); break; }
  }
  say('answered ' + answered);
  await link.close();`);
    expect(said).toEqual(['answered 50']);
  }, 60_000);

  it('a pty that goes away mid-read: the link reports it down (no hang, no crash) and reopens when the device is back', async () => {
    const { host, robot, socat, dir } = await ptyPair();
    const said = onWorker(host, `
  link.onDown = (why) => say('down: ' + why);
  link.onUp = () => say('up');
  await new Promise((r) => setTimeout(r, 8000));
  say('reopens ' + link.reopens);
  await link.close();`);
    await new Promise((r) => setTimeout(r, 1500));
    socat.kill();
    await new Promise((r) => setTimeout(r, 1000));
    // The device comes back at the same path (a replugged adapter).
    const back = await ptyPair(dir);
    expect(back.robot).toBe(robot);
    const lines = await said;
    expect(lines[0]).toMatch(/^down: serial port .*host closed$/);
    expect(lines).toContain('up');
    expect(lines.at(-1)).toBe('reopens 1');
  }, 60_000);
});

describe('a serial link on the main thread (binding.ts)', () => {
  it('a peer that hangs up while this side only listens: reported down at once, reopened when the device is back', async () => {
    // The serial emulator's case: it answers and never writes first. bindings-cpp's own read took
    // the hung-up pty's 0-byte reads as "try again" — a core spinning, the link never told (a CI
    // run's emulator stayed down for good, and the env after it).
    const { robot, socat, dir } = await ptyPair();
    const link = await SerialLink.open({ path: robot, reopenMinMs: 50 });
    cleanup.push(() => link.close());
    const events: string[] = [];
    link.onDown = (why) => events.push(`down: ${why}`);
    link.onUp = () => events.push('up');
    socat.kill();
    expect(await until(() => events.length > 0, 5000)).toBe(true);
    expect(events[0]).toMatch(/^down: serial port .*robot closed$/);
    expect(link.isOpen).toBe(false);
    await ptyPair(dir);
    expect(await until(() => link.reopens === 1 && link.isOpen, 10_000)).toBe(true);
    expect(events).toEqual([events[0], 'up']);
  }, 30_000);
});

import { describe, expect, it } from 'vitest';
import { cleanup, ptyPair, until } from '../../test/robot-fixtures.js';
import { SerialLink } from './link.js';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('SerialLink: one report per loss, and close() means closed', () => {
  it('a write under way when the device hangs up: one down, then one up when it is back', async () => {
    const { host, socat, dir } = await ptyPair();
    const link = await SerialLink.open({ path: host, reopenMinMs: 50, reopenMaxMs: 200 });
    cleanup.push(() => link.close());
    const events: string[] = [];
    link.onDown = () => events.push('down');
    link.onUp = () => events.push('up');
    // Nobody reads the other end: the pty's buffer fills and this write waits when the device goes.
    expect(link.write(Buffer.alloc(1_000_000, 0x55))).toBe(true);
    const ticks = setInterval(() => link.write(Buffer.from('tick')), 2);
    await pause(200);
    socat.kill();
    expect(await until(() => !link.isOpen, 5000)).toBe(true);
    clearInterval(ticks);
    // The failed write closes the stream twice (its destroy, then the binding's close); it used to
    // be reported as two losses.
    await pause(300);
    expect(events).toEqual(['down']);
    await ptyPair(dir);
    expect(await until(() => link.isOpen && link.reopens === 1, 10_000)).toBe(true);
    await pause(200);
    expect(events).toEqual(['down', 'up']);
  }, 30_000);

  it('close() while a reopen is opening the port: the link stays closed and holds nothing', async () => {
    const { robot, socat, dir } = await ptyPair();
    const link = await SerialLink.open({ path: robot, reopenMinMs: 50 });
    const events: string[] = [];
    link.onDown = () => events.push('down');
    link.onUp = () => events.push('up');
    // close() from inside the reopen, after its open has started: the race made deterministic.
    const inner = link as unknown as { openOnce: () => Promise<void> };
    const openOnce = inner.openOnce;
    let closed: Promise<void> | null = null;
    inner.openOnce = function (this: SerialLink) {
      const opening = openOnce.call(this);
      closed = link.close();
      return opening;
    };
    socat.kill();
    expect(await until(() => events.length > 0, 5000)).toBe(true);
    await ptyPair(dir);
    expect(await until(() => closed !== null, 10_000)).toBe(true);
    await closed;
    await pause(200);
    // It used to open the port after close(), report it up and keep its descriptor (the process
    // could not exit).
    expect(link.isOpen).toBe(false);
    expect(link.reopens).toBe(0);
    expect(events).toEqual(['down']);
  }, 30_000);
});

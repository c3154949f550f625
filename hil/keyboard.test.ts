import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ptyPair, until } from '../test/robot-fixtures.js';
import { KeyboardDevice } from './devices/keyboard.js';

beforeAll(() => {
  if (spawnSync('socat', ['-V']).status !== 0) throw new Error('these tests need socat (apt-get install socat); .ci/run installs it');
});

const ctx = { obs: new Float32Array(3), proposed: new Float32Array(7), t: 0 };

describe('keyboard teleop over a real pseudo-terminal', () => {
  it('space takes over and hands back; held keys move their dimension; buttons and e-stop; junk and arrow keys are ignored; a closed terminal disconnects', async () => {
    const pair = await ptyPair();
    // The device reads the pty as a terminal in raw mode, as it reads stdin; the test types on the other side.
    const fd = openSync(pair.robot, 'r+');
    const input = new ReadStream(fd);
    let clock = 0;
    const kb = new KeyboardDevice(input, { dims: 7, gain: 0.5, holdMs: 100, firstHoldMs: 300, now: () => clock });
    cleanup.push(() => kb.close());
    const host = openSync(pair.host, 'w');
    cleanup.push(() => closeSync(host));
    const type = async (text: string): Promise<void> => {
      const before = kb.stats.keys;
      writeSync(host, Buffer.from(text, 'binary'));
      expect(await until(() => kb.stats.keys >= before + Buffer.byteLength(text, 'binary'))).toBe(true);
    };
    expect(kb.poll(ctx).engaged).toBe(false);
    await type('q'); // not in control: keys do nothing
    expect(kb.poll(ctx).engaged).toBe(false);
    await type(' ');
    expect(Array.from(kb.poll(ctx).action!)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    await type('q');
    await type('d');
    expect(Array.from(kb.poll(ctx).action!)).toEqual([0.5, 0, -0.5, 0, 0, 0, 0]);
    clock = 250; // still within the first hold (the terminal has not started repeating yet)
    expect(kb.poll(ctx).action![0]).toBe(0.5);
    clock = 400; // no repeat came: released
    expect(Array.from(kb.poll(ctx).action!)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    await type('\x1b[Az%'); // an arrow key and junk: ignored, counted
    expect(kb.stats.ignored).toBe(3);
    await type('\r');
    expect(kb.poll(ctx).button).toBe('success');
    expect(kb.poll(ctx).button).toBeNull(); // a button is reported once
    await type('\x1b');
    const stopped = kb.poll(ctx);
    expect(stopped.button).toBe('estop');
    expect(stopped.engaged).toBe(false); // the e-stop also hands back
    pair.socat.kill(); // the terminal goes away
    expect(await until(() => !kb.poll(ctx).connected)).toBe(true);
    expect(kb.poll(ctx).error).toMatch(/keyboard/);
  });

  it('roborl train --teleop keyboard without a terminal says so before writing anything', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { existsSync, mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const dir = mkdtempSync(join(tmpdir(), 'roborl-kb-'));
    writeFileSync(join(dir, 'c.yaml'), 'name: kb\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac }\ntrain: { steps: 100 }\n');
    const r = await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../cli/bin.mjs', import.meta.url)), 'train', join(dir, 'c.yaml'), '--run-dir', join(dir, 'run'), '--teleop', 'keyboard']).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr).toMatch(/keyboard teleop needs a terminal/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  }, 60_000);
});

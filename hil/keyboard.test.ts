import { execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ReadStream } from 'node:tty';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ptyPair, until } from '../test/robot-fixtures.js';
import { allocBatch, ReplayBuffer } from '../policies/replay.js';
import { loadLatestCheckpoint } from '../policies/checkpoint.js';
import { keyboardHelp, KeyboardDevice } from './devices/keyboard.js';

beforeAll(() => {
  if (spawnSync('socat', ['-V']).status !== 0) throw new Error('these tests need socat (apt-get install socat); .ci/run installs it');
});

const ctx = { obs: new Float32Array(3), proposed: new Float32Array(7), t: 0 };

/**
 * A 7-dimension keyboard device reading one side of a real pty as a terminal in raw mode (as it
 * reads stdin), and `type`, which writes on the other side and waits until every byte was read.
 */
async function keyboardOnPty(options: { holdMs?: number; firstHoldMs?: number; gripper?: number; now: () => number }) {
  const pair = await ptyPair();
  const fd = openSync(pair.robot, 'r+');
  const kb = new KeyboardDevice(new ReadStream(fd), { dims: 7, gain: 0.5, ...options });
  cleanup.push(() => kb.close());
  const host = openSync(pair.host, 'w');
  cleanup.push(() => closeSync(host));
  const type = async (text: string): Promise<void> => {
    const before = kb.stats.keys;
    writeSync(host, Buffer.from(text, 'binary'));
    expect(await until(() => kb.stats.keys >= before + Buffer.byteLength(text, 'binary'))).toBe(true);
  };
  return { pair, kb, type };
}

describe('keyboard teleop over a real pseudo-terminal', () => {
  it('space takes over and hands back; held keys move their dimension; buttons and e-stop; junk and arrow keys are ignored; a closed terminal disconnects', async () => {
    let clock = 0;
    const { pair, kb, type } = await keyboardOnPty({ holdMs: 100, firstHoldMs: 300, now: () => clock });
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

  it('escape sequences are read whole (CSI with parameters, SS3, split across reads) and ignored; Esc with Enter in one tick is the e-stop; the help lists only the action\'s dimensions', async () => {
    const { kb, type } = await keyboardOnPty({ now: () => 0 });
    await type(' ');
    // Ctrl+Up (ESC [ 1 ; 5 A), F2 (ESC O Q), F5 (ESC [ 1 5 ~), Shift+Tab (ESC [ Z): no button, no key.
    for (const seq of ['\x1b[1;5A', '\x1bOQ', '\x1b[15~', '\x1b[Z']) {
      const ignored = kb.stats.ignored;
      await type(seq);
      const r = kb.poll(ctx);
      expect({ seq, button: r.button, engaged: r.engaged, action: Array.from(r.action ?? []) }).toEqual({ seq, button: null, engaged: true, action: [0, 0, 0, 0, 0, 0, 0] });
      expect(kb.stats.ignored).toBe(ignored + 1);
    }
    // A sequence split across two reads is still one sequence (its final `A` is not the key a).
    await type('\x1b[1;');
    await type('5A');
    expect(Array.from(kb.poll(ctx).action!)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    // Esc then Enter before the next tick: the e-stop wins (and hands back).
    await type('\x1b\r');
    const both = kb.poll(ctx);
    expect(both.button).toBe('estop');
    expect(both.engaged).toBe(false);
    expect(kb.poll(ctx).button).toBeNull();
    // Enter then x in one tick: no success claimed over a failure.
    await type('\rx');
    expect(kb.poll(ctx).button).toBe('failure');
    // The help lists the keys of the action's dimensions only.
    expect(keyboardHelp(7)).toContain('u/j = dim 7 +/−');
    expect(keyboardHelp(7)).not.toContain('i/k');
    expect(keyboardHelp(3, ['tcp x', 'tcp y', 'tcp z'])).toMatch(/q\/a = tcp x \+\/− · w\/s = tcp y \+\/− · e\/d = tcp z \+\/− · enter/);
    expect(keyboardHelp(3)).not.toContain('r/f');
  });

  it("on a tool-frame action the gripper axis keeps the policy's gripper until a gripper key is pressed, then stays where the key put it (review finding 5)", async () => {
    let clock = 0;
    const { kb, type } = await keyboardOnPty({ holdMs: 100, firstHoldMs: 300, gripper: 4, now: () => clock });
    // [Δx, Δy, Δz, Δyaw, gripper, …]: the policy holds the cube (gripper −0.9).
    const holding = { ...ctx, proposed: Float32Array.of(0.1, 0.2, 0.3, 0, -0.9, 0, 0) };
    await type(' ');
    expect(Array.from(kb.poll(holding).action!)).toEqual([0, 0, 0, 0, Math.fround(-0.9), 0, 0]);
    await type('e'); // Δz up: the gripper is still the policy's
    expect(Array.from(kb.poll(holding).action!)).toEqual([0, 0, 0.5, 0, Math.fround(-0.9), 0, 0]);
    await type('t'); // the gripper's + key: open, and it stays open after the key is let go
    expect(kb.poll(holding).action![4]).toBe(1);
    clock = 1000;
    expect(Array.from(kb.poll(holding).action!)).toEqual([0, 0, 0, 0, 1, 0, 0]);
    await type('g');
    expect(kb.poll(holding).action![4]).toBe(-1);
    // Handing back and taking over again: the policy's gripper until a key is pressed.
    await type('  ');
    expect(kb.poll(holding).action![4]).toBe(Math.fround(-0.9));
  });

  it('roborl train --teleop keyboard without a terminal says so before writing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-kb-'));
    writeFileSync(join(dir, 'c.yaml'), 'name: kb\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac }\ntrain: { steps: 100 }\n');
    const r = await promisify(execFile)(process.execPath, [fileURLToPath(new URL('../cli/bin.mjs', import.meta.url)), 'train', join(dir, 'c.yaml'), '--run-dir', join(dir, 'run'), '--teleop', 'keyboard']).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr).toMatch(/keyboard teleop needs a terminal/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  }, 60_000);
});

describe('correcting a learning arm from the keyboard (the README commands, in a real terminal)', () => {
  it('roborl train --teleop keyboard paces the simulator to real time and learns from the keys a person presses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-kb-run-'));
    writeFileSync(join(dir, 'c.yaml'), 'name: kb\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 50 }\ntrain: { steps: 150, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 150, logEvery: 50 }\n');
    const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
    // `script` gives roborl a real terminal; what this test writes to script's stdin is typed into it.
    const child = spawn('script', ['-qfec', `${process.execPath} ${bin} train ${join(dir, 'c.yaml')} --run-dir ${join(dir, 'run')} --quiet --teleop keyboard`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    expect(await until(() => /run folder:/.test(out), 60_000)).toBe(true);
    child.stdin.write(' '); // take over
    // Hold joint 1 + until an episode record shows the keys took effect (a loaded machine may take
    // seconds to start stepping: 7.5 s measured with both cores busy), then hand back. Meanwhile
    // note when each episode record (50 steps) appears, for the pacing check.
    let done = false;
    void exited.then(() => (done = true));
    const metricsPath = join(dir, 'run', 'metrics.jsonl');
    const episodeLines = (): string[] => (existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8').split('\n').filter((l) => l.startsWith('{"type":"episode"')) : []);
    const seenAt: number[] = [];
    let handedBack = false;
    for (let k = 0; !done && k < 3000; k++) {
      const lines = episodeLines();
      while (seenAt.length < lines.length) seenAt.push(performance.now());
      if (!handedBack && lines.some((l) => !l.includes('"human":{"steps":0,'))) {
        child.stdin.write(' ');
        handedBack = true;
      }
      if (!handedBack) child.stdin.write('q');
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(await exited).toBe(0);
    const episodes = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; human?: { steps: number; takeovers: number } })
      .filter((r) => r.type === 'episode');
    const human = episodes.reduce((s, e) => s + (e.human?.steps ?? 0), 0);
    expect(human).toBeGreaterThan(10); // up to 4 s of keys at 25 Hz
    expect(episodes.some((e) => (e.human?.takeovers ?? 0) >= 1)).toBe(true);
    // Paced to PandaReach's 25 Hz: an episode's 50 steps take 2 s of wall time (unpaced, the
    // simulator runs them in well under a second); a loaded machine only makes it longer.
    expect(seenAt.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < seenAt.length; i++) expect((seenAt[i]! - seenAt[i - 1]!) / 1000).toBeGreaterThan(0.85 * (50 / 25));
    // The keys reached the learner: the person's transitions (joint 1 +, the q key) are in the
    // checkpoint's demo table, which holds only transitions the person drove.
    const ckpt = loadLatestCheckpoint(join(dir, 'run', 'checkpoints'));
    expect(ckpt?.step).toBe(150);
    const h = ckpt!.header as { learnerSections: number; replaySections: number; demoTable: Record<string, unknown> };
    const demos = ReplayBuffer.decode(h.demoTable, ckpt!.sections.slice(h.learnerSections + h.replaySections), ckpt!.path);
    expect(demos.size).toBeGreaterThanOrEqual(human);
    const batch = allocBatch(demos.spec, 1);
    const joint1: number[] = [];
    for (let i = 0; i < demos.size; i++) {
      demos.writeRow(batch, 0, i, 0.99, 1);
      joint1.push(batch.action[0] as number);
    }
    expect(Math.min(...joint1)).toBeGreaterThanOrEqual(-1e-6); // nobody pressed a (joint 1 −)
    expect(joint1.filter((v) => v > 0.1).length).toBeGreaterThan(demos.size / 2);
  }, 120_000);

  it('roborl record-demos --device keyboard (the README command, with longer episodes): Enter keeps the episode the person drove', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-kb-rec-'));
    const out = join(dir, 'kb.demos');
    const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
    // 20 s episodes (500 steps), so a loaded machine's slow start and typing still land in the first one.
    writeFileSync(join(dir, 'long.yaml'), 'name: kb\nenv: { id: PandaReach-v0, timeLimit: 500 }\nalgo: { kind: sac }\ntrain: { steps: 1 }\n');
    const child = spawn('script', ['-qfec', `${process.execPath} ${bin} record-demos --config ${join(dir, 'long.yaml')} --device keyboard --episodes 1 --out ${out}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    expect(await until(() => /episode 1: ready/.test(text), 60_000)).toBe(true);
    child.stdin.write(' ');
    for (let k = 0; k < 300; k++) {
      child.stdin.write('w'); // hold joint 2 + for 12 s of a 20 s episode (the first steps may start seconds late)
      await new Promise((r) => setTimeout(r, 40));
    }
    child.stdin.write('\r');
    expect(await exited).toBe(0);
    const summary = /episode 1: \d+ steps, you drove (\d+), ended by (success|task) \(success\) — kept \(1\/1\)/.exec(text);
    expect(summary).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(0);
    const episodes = [...ReplayBuffer.load(out).episodes()];
    expect(episodes.length).toBe(1);
    // Joint 2 (obs 1) moved up under the keys. Held still it moves < 1e-6 rad; how far it moves depends on how many
    // ticks the keys were seen down, which a loaded machine cuts (0.015 rad measured under stress-ng, 0.05 idle).
    const q2 = episodes[0]!.map((t) => t.obs[1] as number);
    expect((q2.at(-1) as number) - (q2[0] as number)).toBeGreaterThan(0.003);
  }, 120_000);
});

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Env, StepResult } from '../control/env.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { validateConfig } from '../experiment/config.js';
import { makeLearnerEnv } from '../experiment/setup.js';
import { selectBackend } from '../policies/backend.js';
import { allocBatch, ReplayBuffer } from '../policies/replay.js';
import { waitFor } from '../test/wait-for.js';
import { IDLE, type TeleopDevice, type TeleopReading } from './device.js';
import { WebTeleop } from './devices/web.js';
import { Intervention } from './intervention.js';
import { ToolFrameAxes } from './cartesian.js';

/**
 * Issue 22: on an env that acts in the tool frame (`env.options.action.frame: tcp`) the
 * person's device drives the env's own action — [Δx, Δy, Δz, (Δyaw), (gripper)] — not 7 joint
 * deltas through the IK; the page shows the policy's own action; the simulated person acts in
 * the same frame. The env is configs/panda-pick-rlpd.yaml's.
 */
const CONFIG = fileURLToPath(new URL('../configs/panda-pick-rlpd.yaml', import.meta.url));
const pickEnv = (): { id: string; options: Record<string, unknown> } => {
  const env = (parse(readFileSync(CONFIG, 'utf8')) as { env: { id: string; options: Record<string, unknown> } }).env;
  expect(env).toMatchObject({ id: 'PandaPickCube-v0', options: { action: { frame: 'tcp' } } });
  return env;
};
const PICK_ACTIONS = ['Δtcp x', 'Δtcp y', 'Δtcp z', 'gripper'];
const TCP_X = 14; // PANDA_ARM_OBSERVATION_NAMES: q (7), q̇ (7), tcp x y z

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of closers.splice(0).reverse()) await f();
});
beforeAll(async () => {
  await selectBackend('wasm');
});

/** The pick config's learner env with the person's device `hil` in front, and what it printed (the page's address). */
async function pickWithHuman(hil: Record<string, unknown>, env: Record<string, unknown> = {}): Promise<{ env: Env; printed: string }> {
  const config = validateConfig({ name: 'tool-frame', env: { ...pickEnv(), ...env }, algo: { kind: 'sac' }, train: { steps: 10 }, hil }, 'test');
  const stderr = process.stderr.write.bind(process.stderr);
  let printed = '';
  process.stderr.write = ((s: string) => ((printed += s), true)) as typeof process.stderr.write;
  try {
    const made = await makeLearnerEnv(config, undefined, { human: true });
    closers.push(() => made.close());
    return { env: made, printed };
  } finally {
    process.stderr.write = stderr;
  }
}

describe('teleop on a tool-frame env (env.options.action.frame: tcp)', () => {
  for (const frame of ['tcp', 'joint'] as const) {
    it(`hil.frame: ${frame} — the page drives the env's own action (Δtcp x/y/z, gripper): +x moves the TCP +x; the executed action has the env's length; the proposal shown is the policy's own action`, async () => {
      const { env, printed } = await pickWithHuman({ device: 'web', web: { port: 0 }, frame });
      expect(env.spec.actionSpace.kind === 'box' && env.spec.actionSpace.low.length).toBe(4);
      const device = (findWrapper(env, Intervention) as Intervention).device;
      expect(device).toBeInstanceOf(WebTeleop);
      const url = new URL(/teleop page: (\S+)/.exec(printed)?.[1] as string);
      const messages: Record<string, unknown>[] = [];
      const { default: WebSocket } = await import('ws');
      const ws = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get('token')}`);
      closers.push(() => void ws.terminate());
      ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      await waitFor('hello', () => messages.length > 0, 10_000);
      expect(messages[0]).toMatchObject({ env: 'PandaPickCube-v0', dims: 4, labels: PICK_ACTIONS, frame: 'tcp' });

      let { obs } = await env.reset({ seed: 2 });
      // The policy's proposal reaches the page as it is: already in the tool frame.
      const policy = Float32Array.of(0.25, -0.5, 0, 1);
      await env.step(policy);
      await waitFor('state', () => messages.some((m) => m['op'] === 'state'), 10_000);
      const state = messages.find((m) => m['op'] === 'state') as { proposed: number[] };
      expect(state.proposed).toEqual(Array.from(policy));

      ({ obs } = await env.reset({ seed: 2 }));
      const x0 = obs[TCP_X] as number;
      const yz0 = [obs[TCP_X + 1] as number, obs[TCP_X + 2] as number];
      const send = setInterval(() => ws.send(JSON.stringify({ op: 'command', engaged: true, action: [0.8, 0, 0, 1] })), 20);
      closers.push(() => clearInterval(send));
      await waitFor('a command', () => messages.length > 0 && (device as WebTeleop).stats.commands > 0, 10_000);
      const steps: StepResult[] = [];
      for (let i = 0; i < 15; i++) steps.push(await env.step(new Float32Array(4)));
      clearInterval(send);
      const driven = steps.filter((s) => s.info.intervention?.engaged);
      expect(driven.length).toBeGreaterThan(10);
      for (const s of driven) {
        expect(Array.from(s.info.intervention?.human ?? [])).toEqual([0.800000011920929, 0, 0, 1]);
        expect(s.info.intervention?.sent).toHaveLength(4);
      }
      const last = steps.at(-1)?.obs as Float32Array;
      // 0.8 × 5 cm asked a step: the TCP follows at a fraction of it, straight along +x.
      expect((last[TCP_X] as number) - x0).toBeGreaterThan(0.05);
      expect(Math.hypot((last[TCP_X + 1] as number) - (yz0[0] as number), (last[TCP_X + 2] as number) - (yz0[1] as number))).toBeLessThan(0.02);
    }, 60_000);
  }

  it('the simulated person on a tool-frame env acts in the tool frame (its takeovers have the env\'s action length)', async () => {
    const { env } = await pickWithHuman({ device: 'simulated', simulated: { reactionSteps: 0, patience: 3, budget: 1, trigger: 'disagreement', disagreement: 0.1 } });
    await env.reset({ seed: 1 });
    const human: Float32Array[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await env.step(Float32Array.of(0, 0, 1, -1)); // up and closed: away from the cube
      if (r.info.intervention?.human) human.push(r.info.intervention.human);
      if (r.terminated || r.truncated) break;
    }
    expect(human.length).toBeGreaterThan(5);
    for (const a of human) expect(a).toHaveLength(4);
    // The expert first heads over the cube with the fingers open: its gripper entry opens (+1).
    expect(human[0]?.[3]).toBeGreaterThan(0.9);
  }, 60_000);

  it('a 3-axis device (a SpaceMouse) drives Δtcp x/y/z; the entries it has no axis for (yaw, gripper) follow the policy\'s proposal', () => {
    const holding: TeleopDevice = { name: 'mouse', poll: (): TeleopReading => ({ ...IDLE, engaged: true, action: Float32Array.of(0.5, -0.5, 0.25) }), close: async () => {} };
    const device = new ToolFrameAxes(holding, 5);
    const r = device.poll({ obs: new Float32Array(3), proposed: Float32Array.of(0.1, 0.2, 0.3, -0.7, 0.9), t: 0 });
    expect(Array.from(r.action ?? [])).toEqual([0.5, -0.5, 0.25, Math.fround(-0.7), Math.fround(0.9)]);
    // Not engaged: the reading passes as it is (the policy acts).
    const idle = new ToolFrameAxes({ ...holding, poll: () => IDLE }, 5);
    expect(idle.poll({ obs: new Float32Array(3), proposed: new Float32Array(5), t: 1 })).toMatchObject({ engaged: false, action: null });
  });
});

const CHROMIUM = '/usr/bin/chromium';
describe('the teleop page in headless Chromium on a tool-frame env', () => {
  it('rows Δtcp x/y/z and gripper; the proposal is the policy\'s action; holding q (Δtcp x +) moves the TCP +x in the sim', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`this test needs Debian's chromium at ${CHROMIUM} (apt-get install chromium); .ci/run installs it`);
    const { env, printed } = await pickWithHuman({ device: 'web', web: { port: 0 }, frame: 'tcp' });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    closers.push(() => browser.close());
    const tab = await browser.newPage();
    await tab.goto(/teleop page: (\S+)/.exec(printed)?.[1] as string);
    await tab.locator('#link', { hasText: 'connected' }).waitFor({ timeout: 30_000 });
    const rowLabels = (sel: string): Promise<string[]> => tab.locator(`${sel} .dim > span:first-child`).allTextContents();
    expect(await rowLabels('#sliders')).toEqual(PICK_ACTIONS);
    expect(await tab.locator('#frame-controls').textContent()).toContain('tool frame');

    // The policy steps with its own tool-frame action; the page shows exactly that.
    await env.reset({ seed: 5 });
    const policy = Float32Array.of(0, 0.5, 0, -1);
    let stepping = true;
    let obs: Float32Array = new Float32Array(0);
    const executed: Float32Array[] = [];
    // TCP x moved by each person step whose sent action had Δtcp x > 0 (a step that ends the
    // episode is left out: the reset moves the arm, not the key).
    const movedUnderKey: number[] = [];
    const loop = (async () => {
      while (stepping) {
        const before = obs.length > 0 ? (obs[TCP_X] as number) : Number.NaN;
        const r = await env.step(policy);
        obs = r.obs;
        if (r.info.intervention?.engaged && r.info.intervention.human) {
          const sent = r.info.intervention.sent ?? new Float32Array(0);
          executed.push(sent);
          if ((sent[0] ?? 0) > 0 && !r.terminated && !r.truncated && Number.isFinite(before)) movedUnderKey.push((obs[TCP_X] as number) - before);
        }
        if (r.terminated || r.truncated) obs = (await env.reset()).obs;
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    closers.push(async () => {
      stepping = false;
      await loop;
    });
    await expect.poll(() => rowLabels('#proposed'), { timeout: 30_000 }).toEqual(PICK_ACTIONS);
    expect((await tab.locator('#proposed .dim > span:last-child').allTextContents()).map(Number)).toEqual([0, 0.5, 0, -1]);

    // Take over and hold q: Δtcp x + at the page's key gain.
    await tab.click('#takeover');
    await waitFor('engaged', () => executed.length > 0, 30_000);
    await tab.keyboard.down('q');
    // Counted from the steps the key reached (under load the page's key state lands a few steps late).
    await waitFor('12 steps under the key', () => movedUnderKey.length >= 12, 60_000);
    await tab.keyboard.up('q');
    const moved = movedUnderKey.slice(0, 12).reduce((a, b) => a + b, 0);
    expect(moved).toBeGreaterThan(0.03);
    for (const a of executed) expect(a).toHaveLength(4);
  }, 120_000);
});

describe('keyboard teleop on a tool-frame env (the CLI in a real terminal)', () => {
  it('roborl record-demos --device keyboard --frame tcp on the pick config\'s env: q moves the TCP +x and the demos store 4-entry tool-frame actions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-kb-tcp-'));
    const out = join(dir, 'kb.demos');
    const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
    const { id, options } = pickEnv();
    // 20 s episodes (500 steps), so a loaded machine's slow start and typing still land in the first one.
    writeFileSync(join(dir, 'pick.yaml'), `name: kb\nenv: ${JSON.stringify({ id, options, timeLimit: 500 })}\nalgo: { kind: sac }\ntrain: { steps: 1 }\n`);
    const child = spawn('script', ['-qfec', `${process.execPath} ${bin} record-demos --config ${join(dir, 'pick.yaml')} --device keyboard --frame tcp --episodes 1 --out ${out}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    closers.push(() => void child.kill('SIGKILL'));
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await waitFor('episode 1 ready', () => /episode 1: ready/.test(text) || child.exitCode !== null, 60_000);
    expect(text).toMatch(/q\/a = Δtcp x \+\/− · w\/s = Δtcp y \+\/− · e\/d = Δtcp z \+\/− · r\/f = gripper \+\/−/);
    child.stdin.write(' ');
    // Hold Δtcp x + for 6 s of the 20 s episode (a loaded machine sees the keys down on fewer ticks).
    for (let k = 0; k < 150; k++) {
      child.stdin.write('q');
      await new Promise((r) => setTimeout(r, 40));
    }
    child.stdin.write('\r');
    expect(await exited).toBe(0);
    const demos = ReplayBuffer.load(out);
    expect(demos.spec.actDim).toBe(4);
    const episodes = [...demos.episodes()];
    expect(episodes.length).toBe(1);
    const ep = episodes[0]!;
    // The TCP went +x, not sideways (held still it does not move; how far depends on how many
    // ticks saw the key down: 9 mm measured at load 15 on 2 cores, tens of cm idle, where the
    // arm's reach then lowers the hand — z is not checked).
    const d = [0, 1].map((i) => (ep.at(-1)!.nextObs[TCP_X + i] as number) - (ep[0]!.obs[TCP_X + i] as number));
    expect(d[0]).toBeGreaterThan(0.005);
    expect(Math.abs(d[1] as number)).toBeLessThan(0.5 * (d[0] as number));
    const batch = allocBatch(demos.spec, 1);
    const dx: number[] = [];
    for (let i = 0; i < demos.size; i++) {
      demos.writeRow(batch, 0, i, 0.99, 1);
      dx.push(batch.action[0] as number);
    }
    // q is Δtcp x + at the keyboard's gain (0.5): stored as the env's own action entry, not a joint delta.
    expect(dx.filter((v) => Math.abs(v - 0.5) < 1e-6).length).toBeGreaterThan(5);
  }, 120_000);
});

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { parse as parseYaml, stringify } from 'yaml';
import { validateConfig } from '../experiment/config.js';
import { loadDemos, makeLearnerEnv, simulatorLabel } from '../experiment/setup.js';
import { servedRos } from '../test/robot-fixtures.js';
import { selectBackend } from '../policies/backend.js';
import { loadLatestCheckpoint } from '../policies/checkpoint.js';
import { MetricsLog } from '../policies/metrics-log.js';
import { allocBatch, ReplayBuffer } from '../policies/replay.js';
import { pandaTcpTeleop } from '../tasks/panda.js';
import { CartesianTeleop } from './cartesian.js';
import { IDLE, type TeleopDevice, type TeleopReading } from './device.js';
import { Intervention } from './intervention.js';
import { allFrames, episodesFromDemos, precisionRecall, RewardClassifier, splitEpisodes } from './reward-classifier.js';
import { waitFor } from '../test/wait-for.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

beforeAll(async () => {
  await selectBackend('wasm');
});

/**
 * Starts a roborl command; resolves once it prints the teleop page's address, with a socket to it
 * and every message the page sent on it (`messages`, from the first: the page sends `hello` as the
 * handshake completes, before a listener added after `open` could hear it).
 */
async function withPage(args: string[]): Promise<{ child: ChildProcess; ws: WebSocket; messages: Record<string, unknown>[]; stdout: () => string; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<URL>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /teleop page: (\S+)/.exec(err);
      if (m) resolve(new URL(m[1] as string));
    });
    void exit.then((code) => reject(new Error(`roborl exited ${code} before serving the page:\n${err}`)));
  });
  const ws = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get('token')}`);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { child, ws, messages, stdout: () => out, stderr: () => err, exit };
}

/** The page's `hello` among its messages (the first it sends). */
function hello(messages: readonly Record<string, unknown>[]): { observationNames: string[] } {
  const h = messages.find((m) => m['op'] === 'hello') as { observationNames?: string[] } | undefined;
  if (!h?.observationNames) throw new Error('no hello with observation names from the page');
  return { observationNames: h.observationNames };
}

const until = (what: string, check: () => boolean, ms = 60_000): Promise<void> => waitFor(what, check, ms, 20);

describe('a person through the CLI (web teleop page)', () => {
  it('record-demos --device web: the person drives in the tool frame, success keeps the episode, end-episode discards one; Ctrl-C keeps what was kept', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roborl-rec-')), 'person.demos');
    const p = await withPage(['record-demos', '--env', 'PandaReach-v0', '--device', 'web', '--frame', 'tcp', '--episodes', '5', '--out', out]);
    let driven = 0;
    p.ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { op: string; humanSteps?: number };
      if (m.op === 'state' && typeof m.humanSteps === 'number') driven = m.humanSteps;
    });
    const drive = setInterval(() => p.ws.send(JSON.stringify({ op: 'command', engaged: true, action: [0, 0, -0.5] })), 40);
    try {
      // ~15 steps of the person's (as the page's state reports them: a loaded machine starts stepping late).
      await until('15 driven steps', () => driven >= 15);
      p.ws.send(JSON.stringify({ op: 'button', button: 'success' }));
      await until('episode 1 kept', () => /episode 1: .* ended by success \(success\) — kept \(1\/5\)/.test(p.stderr()));
      p.ws.send(JSON.stringify({ op: 'button', button: 'end-episode' }));
      await until('episode 2 discarded', () => /episode 2: .* ended by end-episode — discarded \(1\/5\)/.test(p.stderr()));
    } finally {
      clearInterval(drive);
    }
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(130);
    expect(p.stderr()).toMatch(/interrupted \(SIGINT\): 1 kept episode/);
    const table = ReplayBuffer.load(out);
    const episodes = [...table.episodes()];
    expect(episodes.length).toBe(1);
    expect(episodes[0]?.at(-1)?.terminated).toBe(true);
    // The person pushed the tool down: the TCP (obs 16) went down along the episode.
    const z = episodes[0]!.map((t) => t.obs[16] as number);
    expect((z.at(-1) as number) - (z[0] as number)).toBeLessThan(-0.03);
  }, 120_000);

  it('record-demos --device web --robot: the person drives the arm over rosbridge; the file is labelled as the simulator\'s stack for the config (the robot YAML\'s own limits: false do not make it another config), and the config loads it', async () => {
    const { server } = await servedRos('realtime');
    const dir = mkdtempSync(join(tmpdir(), 'roborl-rec-robot-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'arm.yaml'), `kind: ros\ntask: PandaReach-v0\nurl: ${server.url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\nresetService: /reset\nlimits: false\n`);
    writeFileSync(join(dir, 'reach.yaml'), 'name: reach\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac }\ntrain: { steps: 10 }\n');
    const out = join(dir, 'person.demos');
    const p = await withPage(['record-demos', '--config', join(dir, 'reach.yaml'), '--device', 'web', '--robot', join(dir, 'arm.yaml'), '--episodes', '1', '--out', out]);
    let driven = 0;
    p.ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { op: string; humanSteps?: number };
      if (m.op === 'state' && typeof m.humanSteps === 'number') driven = m.humanSteps;
    });
    const drive = setInterval(() => p.ws.send(JSON.stringify({ op: 'command', engaged: true, action: [0.3, 0, 0, 0, 0, 0, 0] })), 40);
    try {
      await until('5 driven steps', () => driven >= 5);
      p.ws.send(JSON.stringify({ op: 'button', button: 'success' }));
      expect(await p.exit).toBe(0);
    } finally {
      clearInterval(drive);
    }
    const table = ReplayBuffer.load(out);
    expect(table.size).toBeGreaterThanOrEqual(5);
    expect(table.source?.recordedWith?.safety).toEqual({ limits: { margin: 0.05, softZone: 0.8, brakingDecel: 2, maxActionRate: null, workspace: 'task' }, shield: false, constraints: [] });
    const config = validateConfig({ name: 'reach', env: { id: 'PandaReach-v0' }, algo: { kind: 'sac' }, train: { steps: 10 } }, 'test');
    const env = await makeLearnerEnv(config);
    await env.close();
    expect(loadDemos(out, 'reach.yaml', env.spec, await simulatorLabel(config)).size).toBe(table.size);
  }, 120_000);

  it('record-demos --device with a camera config says a person\'s demos carry no frames, before any page or robot', async () => {
    const config = fileURLToPath(new URL('../configs/panda-reach-pixels-rlpd.yaml', import.meta.url));
    const err = await run(process.execPath, [BIN, 'record-demos', '--config', config, '--device', 'web', '--out', join(tmpdir(), 'never.demos')]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/a person's demos are recorded without camera frames: PandaReach-v0 with env\.options\.cameras records its demos with the scripted expert or a camera run's policy/);
    expect(err?.stderr).not.toMatch(/teleop page/);
  }, 60_000);

  it('teleop --device web drives with no learning and ends on the person\'s buttons; malformed messages are refused and the loop goes on', async () => {
    const p = await withPage(['teleop', '--env', 'PandaReach-v0', '--device', 'web', '--episodes', '2']);
    p.ws.send('{"op":"command","engaged":true,"action":[9,9,9,9,9,9,9]}');
    p.ws.send('garbage');
    let errors = 0;
    p.ws.on('message', (d) => (errors += JSON.parse(d.toString()).op === 'error' ? 1 : 0));
    await until('refusals', () => errors === 2);
    p.ws.send(JSON.stringify({ op: 'command', engaged: true, action: [0.5, 0, 0, 0, 0, 0, 0] }));
    p.ws.send(JSON.stringify({ op: 'button', button: 'failure' }));
    await until('episode 1', () => /episode 1: \d+ steps · you drove \d+ · return -?[\d.]+ · ended by failure/.test(p.stdout()));
    p.ws.send(JSON.stringify({ op: 'button', button: 'end-episode' }));
    expect(await p.exit).toBe(0);
    expect(p.stdout()).toMatch(/episode 2: .* ended by end-episode/);
  }, 120_000);

  it('train --teleop web trains with the page in the loop; unauthenticated sockets are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-web-train-'));
    const cfg = join(dir, 'web.yaml');
    writeFileSync(cfg, 'name: web\nenv: { id: PandaReach-v0 }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 20 }\ntrain: { steps: 60, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 60, logEvery: 20 }\n');
    const p = await withPage(['train', cfg, '--teleop', 'web', '--run-dir', join(dir, 'run'), '--quiet']);
    const url = new URL(/teleop page: (\S+)/.exec(p.stderr())![1] as string);
    const stranger = new WebSocket(`ws://${url.host}/ws`);
    expect(await new Promise((resolve) => stranger.once('unexpected-response', (_q, res) => resolve(res.statusCode)).once('open', () => resolve('open')))).toBe(401);
    const drive = setInterval(() => p.ws.readyState === WebSocket.OPEN && p.ws.send(JSON.stringify({ op: 'command', engaged: true, action: [0, 0, 0, -0.3, 0, 0, 0] })), 40);
    expect(await p.exit).toBe(0);
    clearInterval(drive);
    const episodes = new MetricsLog(join(dir, 'run', 'metrics.jsonl')).read().filter((r) => r.type === 'episode');
    const human = episodes.map((e) => (e['human'] as { steps: number }).steps);
    expect(human.reduce((a, b) => a + b, 0)).toBeGreaterThan(30);
  }, 120_000);
});

describe("the README's pick with a person: record-demos --config configs/panda-pick-hil.yaml, then train it with --teleop web", () => {
  it('the demos the config names are recorded; the person on the page drives the env\'s own tool-frame action (Δz down, gripper closed), and those 4-entry actions reach the learner\'s demo table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-pick-hil-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    // The shipped config as the README runs it, made short and small: a few steps, tiny networks,
    // its demos written where this test can find them.
    const shipped = parseYaml(readFileSync(fileURLToPath(new URL('../configs/panda-pick-hil.yaml', import.meta.url)), 'utf8')) as Record<string, Record<string, unknown>>;
    const cfg = join(dir, 'pick-hil.yaml');
    writeFileSync(cfg, stringify({
      ...shipped,
      algo: { ...shipped['algo'], hidden: [16, 16], batchSize: 16, learningStarts: 20, demos: { ...(shipped['algo']!['demos'] as object), path: join(dir, 'pick.demos') } },
      train: { steps: 110, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 110, logEvery: 50 },
    }));
    await run(process.execPath, [BIN, 'record-demos', '--config', cfg], { timeout: 120_000 });
    expect(ReplayBuffer.load(join(dir, 'pick.demos')).size).toBeGreaterThan(1000); // 20 scripted picks of up to 200 steps
    // Trained on 50-step episodes, so two of them pass in 4 s at the env's 25 Hz.
    writeFileSync(cfg, stringify({ ...parseYaml(readFileSync(cfg, 'utf8')), env: { ...shipped['env'], timeLimit: 50 } }));

    const p = await withPage(['train', cfg, '--teleop', 'web', '--run-dir', join(dir, 'run'), '--quiet']);
    await until('hello', () => p.messages.length > 0);
    expect(p.messages[0]).toMatchObject({ op: 'hello', env: 'PandaPickCube-v0', dims: 4, frame: 'tcp' });
    const drive = setInterval(() => p.ws.readyState === WebSocket.OPEN && p.ws.send(JSON.stringify({ op: 'command', engaged: true, action: [0, 0, -0.5, -1] })), 40);
    try {
      expect(await p.exit).toBe(0);
    } finally {
      clearInterval(drive);
    }
    const episodes = new MetricsLog(join(dir, 'run', 'metrics.jsonl')).read().filter((r) => r.type === 'episode');
    const human = episodes.reduce((s, e) => s + (e['human'] as { steps: number }).steps, 0);
    expect(human).toBeGreaterThan(30);
    // The person's transitions are in the checkpoint's demo table beside the 20 demos: 4 entries
    // (Δx, Δy, Δz, gripper), the hand sent down and closed as the page asked.
    const ckpt = loadLatestCheckpoint(join(dir, 'run', 'checkpoints'));
    const h = ckpt!.header as { learnerSections: number; replaySections: number; demoTable: Record<string, unknown> };
    const table = ReplayBuffer.decode(h.demoTable, ckpt!.sections.slice(h.learnerSections + h.replaySections), ckpt!.path);
    expect(table.spec.actDim).toBe(4);
    const demos = ReplayBuffer.load(join(dir, 'pick.demos')).size;
    expect(table.size).toBeGreaterThanOrEqual(demos + human);
    // Stored is what ran: the command itself, then — once Tier 0's soft limit slows the elbow
    // (joint 4, nearing its bound) on its own — the filtered step read back in the tool frame:
    // still down, still closed, a little forward.
    const batch = allocBatch(table.spec, 1);
    const names = hello(p.messages).observationNames;
    const [tcpZ, width] = [names.indexOf('tcp z'), names.indexOf('gripper width')];
    expect(Math.min(tcpZ, width)).toBeGreaterThanOrEqual(0);
    let exact = 0;
    let [down, closed] = [0, 0];
    for (let i = demos; i < table.size; i++) {
      table.writeRow(batch, 0, i, 0.99, 1);
      expect(batch.action[3]).toBe(-1);
      expect(batch.action[2]).toBeLessThan(-0.3);
      expect(Math.hypot(batch.action[0] as number, batch.action[1] as number)).toBeLessThan(0.15);
      if (batch.action[2] === -0.5 && batch.action[0] === 0 && batch.action[1] === 0) exact++;
      // What the commands did to the arm: the TCP went down, the fingers shut.
      if ((batch.nextObs[tcpZ] as number) < (batch.obs[tcpZ] as number) - 1e-3) down++;
      if ((batch.nextObs[width] as number) < 0.01) closed++;
    }
    expect(exact).toBeGreaterThanOrEqual(4);
    expect(down).toBeGreaterThan(0.8 * (table.size - demos));
    expect(closed).toBeGreaterThan(0.5 * (table.size - demos));
  }, 180_000);
});

/** A device whose person holds one command. */
class Holding implements TeleopDevice {
  readonly name = 'holding';
  constructor(private readonly reading: TeleopReading) {}
  poll(): TeleopReading {
    return this.reading;
  }
  async close(): Promise<void> {}
}

describe('tool-frame teleop (hil.frame: tcp)', () => {
  it('a "down" command moves the Panda TCP straight down, and the Tier 0 workspace stops it as it stops the policy', async () => {
    const config = validateConfig({ name: 't', env: { id: 'PandaReach-v0', timeLimit: 200 }, algo: { kind: 'sac' }, train: { steps: 1 } }, 'test');
    const device = new CartesianTeleop(new Holding({ ...IDLE, engaged: true, action: Float32Array.of(0, 0, -1) }), pandaTcpTeleop());
    const env = new Intervention(await makeLearnerEnv(config), device);
    let { obs } = await env.reset({ seed: 3 });
    const start = Array.from(obs.subarray(14, 17));
    for (let i = 0; i < 10; i++) obs = (await env.step(new Float32Array(7))).obs;
    const end = Array.from(obs.subarray(14, 17));
    // The IK asks 2 cm per step; the joint position control follows at ~6 mm per step (0.15 m/s).
    expect((end[2] as number) - (start[2] as number)).toBeLessThan(-0.04);
    expect(Math.hypot((end[0] as number) - (start[0] as number), (end[1] as number) - (start[1] as number))).toBeLessThan(0.01);
    // Held long enough, the workspace box (8 cm above the table) stops it, as it stops the policy.
    let stopped = false;
    for (let i = 0; i < 100; i++) {
      const r = await env.step(new Float32Array(7));
      obs = r.obs;
      stopped ||= (r.info.safety?.hits['workspace'] ?? 0) > 0;
    }
    expect(stopped).toBe(true);
    expect(obs[16]).toBeGreaterThan(0.08 - 0.01);
    expect(obs[16]).toBeLessThan(0.15);
    await env.close();
  });
});

describe('roborl classifier train', () => {
  it('trains from recorded demos, reports precision / recall on unseen test episodes, and a config uses it as the reward', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-clf-cli-'));
    const demos = join(dir, 'push.demos');
    await run(process.execPath, [BIN, 'record-demos', '--env', 'PandaPush-v0', '--episodes', '40', '--keep-failures', '--out', demos], { timeout: 120_000 });
    const out = join(dir, 'push.classifier');
    const { stdout } = await run(process.execPath, [BIN, 'classifier', 'train', '--demos', demos, '--out', out, '--epochs', '100', '--seed', '3'], { timeout: 120_000 });
    const m = /trained on (\d+) episodes, threshold ([\d.]+) picked on (\d+) episodes \((\d+) frames\); on (\d+) unseen episodes \((\d+) frames\): precision ([\d.]+), recall ([\d.]+)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    const [trained, , picked, , tested, testFrames, precision, recall] = m!.slice(1).map(Number) as number[];
    expect(trained! + picked! + tested!).toBe(40);
    // The numbers are the saved classifier's on the seed's random test episodes — none trained on, none used to pick.
    const episodes = episodesFromDemos([ReplayBuffer.load(demos)]);
    const split = splitEpisodes(episodes, 0.2, 3);
    expect([split.train.length, split.threshold.length, split.test.length]).toEqual([trained, picked, tested]);
    const clf = RewardClassifier.load(out);
    expect(clf.obsDim).toBe(30);
    const frames = allFrames(split.test);
    expect(frames.obs.length).toBe(testFrames);
    const pr = precisionRecall(clf.probabilities(frames.obs), frames.labels, clf.threshold);
    expect(pr.positives).toBeGreaterThan(0);
    expect([pr.precision.toFixed(3), pr.recall.toFixed(3)]).toEqual([precision!.toFixed(3), recall!.toFixed(3)]);
    expect(clf.meta.test).toMatchObject({ precision: pr.precision, recall: pr.recall, episodes: tested });
    clf.dispose();
    // The learned reward in a config: 10-step episodes, so four of them end within the 40 steps.
    const cfg = join(dir, 'learned.yaml');
    writeFileSync(cfg, 'name: learned\nenv: { id: PandaPush-v0, timeLimit: 10, rewardClassifier: push.classifier }\nalgo: { kind: sac, hidden: [8], batchSize: 8, learningStarts: 20 }\ntrain: { steps: 40, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 40, logEvery: 20 }\n');
    await run(process.execPath, [BIN, 'train', cfg, '--run-dir', join(dir, 'run'), '--quiet'], { timeout: 120_000 });
    const returns = new MetricsLog(join(dir, 'run', 'metrics.jsonl'))
      .read()
      .filter((r) => r.type === 'episode')
      .map((e) => e['return']);
    expect(returns.length).toBeGreaterThanOrEqual(4);
    // The learned reward is 0 or 1 per step and a success ends the episode: each return is 0 or 1
    // (the task's own reward is a negative distance every step).
    for (const r of returns) expect([0, 1]).toContain(r);
    // Bad input: a missing file, and demos with too few successes to split.
    const missing = await run(process.execPath, [BIN, 'classifier', 'train', '--demos', join(dir, 'nope.demos'), '--out', out]).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 2 });
    expect((missing as { stderr: string }).stderr).toMatch(/demo file .*nope\.demos not found/);
    const failures = new ReplayBuffer({ capacity: 20, obsDim: 30, actDim: 4, costDim: 0 });
    for (let i = 0; i < 20; i++) failures.add({ obs: new Float32Array(30), action: new Float32Array(4), reward: 0, costs: new Float32Array(0), nextObs: new Float32Array(30), terminated: false, truncated: i % 5 === 4 });
    failures.save(join(dir, 'failures.demos'));
    const none = await run(process.execPath, [BIN, 'classifier', 'train', '--demos', join(dir, 'failures.demos'), '--out', out]).catch((e: { code: number; stderr: string }) => e);
    expect(none).toMatchObject({ code: 2 });
    expect((none as { stderr: string }).stderr).toMatch(/needs at least 3 episodes with a success .*got 0.* \(4 episodes in /);
    expect(existsSync(join(dir, 'run', 'config.yaml'))).toBe(true);
  }, 240_000);
});

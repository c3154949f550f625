import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { servedRos } from './robot-fixtures.js';

const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
const run = promisify(execFile);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

async function roborl(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [bin, ...args], { timeout: 120_000 });
  return stdout;
}

/** Starts a long-running `roborl serve …` and resolves with its first stderr line that matches `ready`. */
function serve(args: string[], ready: RegExp): Promise<RegExpMatchArray> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let text = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
      const m = text.match(ready);
      if (m) resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`roborl serve exited (${code}): ${text}`)));
  });
}

interface EvalSummary {
  on: string;
  returnMean: number;
  returnStd: number;
  successRate: number;
  episodes: number;
  lostEpisodes?: number;
  link?: { reconnects: number; staleSteps: number; resetRetries: number };
}

/** Resolves when the child's stderr has printed a line matching `pattern`. */
function whenPrinted(child: ChildProcess, pattern: RegExp): Promise<void> {
  let text = '';
  return new Promise((resolve) => {
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) resolve();
    });
  });
}

/** Runs a command to its end; resolves with its exit code, stdout and stderr (never rejects on a non-zero exit). */
function runToEnd(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const dir = mkdtempSync(join(tmpdir(), 'roborl-3robots-'));
const runDir = join(dir, 'run');
beforeAll(async () => {
  const config = join(dir, 'reach.yaml');
  writeFileSync(
    config,
    ['name: reach-tiny', 'env: { id: PandaReach-v0 }', 'algo: { kind: sac, hidden: [16, 16], batchSize: 32, learningStarts: 100 }', 'train: { steps: 300, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 300, logEvery: 100 }', ''].join('\n'),
  );
  await roborl('train', config, '--run-dir', runDir, '--quiet');
}, 180_000);

/** A ROS robot config; without a reset service the env drives to each seed's start pose (as the simulator starts). */
function rosYaml(url: string, name = 'ros.yaml', resetService = false): string {
  const path = join(dir, name);
  writeFileSync(path, `kind: ros\ntask: PandaReach-v0\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\n${resetService ? 'resetService: /reset\n' : ''}`);
  return path;
}

describe('one policy, three robots (through the real CLI)', () => {
  it('a checkpoint trained in simulation runs unchanged on the sim, over ROS and over serial (emulators free-running), with agreeing returns', async () => {
    const episodes = '6';
    const evalOn = async (...robot: string[]): Promise<EvalSummary> => JSON.parse(await roborl('eval', runDir, '--episodes', episodes, '--json', ...robot)) as EvalSummary;

    const sim = await evalOn();

    // Free-running like hardware: joint states at 100 Hz (ROS) and servos at 60 Hz physics ticks, against a 25 Hz task.
    const [, url] = (await serve(['ros', '--env', 'PandaReach-v0', '--port', '0', '--sensor-hz', '100'], /on (ws:\/\/127\.0\.0\.1:\d+)/)) as RegExpMatchArray;
    // Recorded as the dashboard shows it: the arm drawn from the joint states the robot reported.
    const recording = join(dir, 'ros.scene.jsonl');
    const ros = await evalOn('--robot', rosYaml(url as string), '--record', recording);

    const host = join(dir, 'host');
    const robotTty = join(dir, 'robot');
    const socat = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${robotTty}`], { stdio: 'ignore' });
    children.push(socat);
    while (!existsSync(robotTty) || !existsSync(host)) await new Promise((r) => setTimeout(r, 10));
    await serve(['serial', '--env', 'PandaReach-v0', '--protocol', 'dynamixel', '--port', robotTty, '--sensor-hz', '60'], /Dynamixel X-series servos/);
    const serialYaml = join(dir, 'serial.yaml');
    // A generous bus timeout: the emulated servos answer through socat on this (possibly
    // loaded) machine, and a late answer is refused, not taken.
    writeFileSync(serialYaml, `kind: dynamixel\ntask: PandaReach-v0\nport: ${host}\ntimeoutMs: 100\n`);
    const serial = await evalOn('--robot', serialYaml);

    expect([sim.on.replace(/ \(.*\)$/, ''), ros.on, serial.on]).toEqual(['sim', 'ros', 'dynamixel']); // sim (its engine)
    // Same deterministic policy, same per-seed goals and start poses, but a robot runs in real
    // time: its states are sampled at the sensor's rate, not at the simulator's instants. The
    // returns must agree within the seed noise (the spread of returns over the evaluation seeds).
    const tolerance = Math.max(sim.returnStd, 0.05 * Math.abs(sim.returnMean));
    process.stderr.write(`one policy, three robots: sim ${sim.returnMean.toFixed(3)} ± ${sim.returnStd.toFixed(3)}, ros ${ros.returnMean.toFixed(3)}, serial ${serial.returnMean.toFixed(3)} (tolerance ${tolerance.toFixed(3)})\n`);
    expect(Math.abs(ros.returnMean - sim.returnMean)).toBeLessThan(tolerance);
    expect(Math.abs(serial.returnMean - sim.returnMean)).toBeLessThan(tolerance);
    expect(ros.lostEpisodes).toBe(0);
    const lines = readFileSync(recording, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; episode: number; shapes?: { name: string }[]; poses?: number[] });
    const scenes = lines.filter((l) => l.type === 'scene');
    expect(scenes.map((l) => l.episode)).toEqual([0, 1, 2, 3, 4, 5]);
    const hand = (scenes[0]?.shapes ?? []).findIndex((x) => x.name === 'panda_hand#0');
    expect(hand).toBeGreaterThanOrEqual(0);
    // The hand moves in the recording: the farthest it got from where an episode started.
    const frames = lines.filter((l) => l.type === 'frame');
    const travel = Math.max(
      ...frames.map((f) => {
        const start = frames.find((g) => g.episode === f.episode)?.poses as number[];
        return Math.hypot(...[0, 1, 2].map((k) => (f.poses?.[7 * hand + k] as number) - (start[7 * hand + k] as number)));
      }),
    );
    // A 300-step policy moves little (1.2–1.4 cm since the Rapier iteration change of issue 21,
    // over 2 cm before); a recording of a still arm gives 0, joint noise micrometres.
    expect(travel).toBeGreaterThan(0.005);
    expect(serial.lostEpisodes).toBe(0);
  }, 240_000);

  it('eval survives rosbridge going away and coming back: it waits for the link, reruns the lost episode and finishes', async () => {
    const [, url, port] = (await serve(['ros', '--env', 'PandaReach-v0', '--port', '0'], /on (ws:\/\/127\.0\.0\.1:(\d+))/)) as RegExpMatchArray;
    const server = children.at(-1) as ChildProcess;
    const evaluation = spawn(process.execPath, [bin, 'eval', runDir, '--episodes', '4', '--json', '--robot', rosYaml(url as string, 'ros-drop.yaml', true)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(evaluation);
    const done = runToEnd(evaluation);
    // Mid-run (~1.5 s of 25 Hz steps in), the bridge dies; it is back 1.5 s later on the same port.
    await whenPrinted(evaluation, /connected to the ros robot/);
    await new Promise((r) => setTimeout(r, 1500));
    server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    await serve(['ros', '--env', 'PandaReach-v0', '--port', port as string], /on ws:/);
    const { code, stdout, stderr } = await done;
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout) as EvalSummary;
    expect(summary.episodes).toBe(4);
    expect(summary.link!.reconnects).toBeGreaterThanOrEqual(1);
    expect(summary.lostEpisodes! + summary.link!.resetRetries).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('Ctrl-C on eval with a robot sends the hold command and exits 130; Ctrl-C on serve stops it', async () => {
    // The robot in this process (the rosbridge emulator roborl serve runs), so what reaches the
    // arm is seen at the arm: every joint state it published and every command it took.
    const { server: bridge, robot } = await servedRos('realtime');
    const published: Float64Array[] = [];
    const commands: { targets: Float64Array; at: number }[] = [];
    const offStates = robot.onState((st) => void published.push(Float64Array.from(st.position)));
    const offCommands = robot.onCommand((targets, at) => void commands.push({ targets, at }));
    const evaluation = spawn(process.execPath, [bin, 'eval', runDir, '--episodes', '20', '--robot', rosYaml(bridge.url, 'ros-sigint.yaml', true)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(evaluation);
    const done = runToEnd(evaluation);
    await whenPrinted(evaluation, /connected to the ros robot/);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = performance.now();
    evaluation.kill('SIGINT');
    const { code, stderr } = await done;
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted \(SIGINT\): the robot was sent its hold command/);
    expect(performance.now() - t0).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 200)); // anything still on the wire arrives
    offStates();
    offCommands();
    // At the arm: the policy's commands, then — after the interrupt — the hold: targets equal,
    // to the bit, to a joint state the arm published (the last one the env measured), and
    // nothing after it.
    expect(commands.length).toBeGreaterThan(5);
    const hold = commands.at(-1)!;
    expect(hold.at).toBeGreaterThanOrEqual(t0);
    expect(published.some((q) => q.every((v, i) => v === hold.targets[i])), `last command [${Array.from(hold.targets).join(', ')}] is not a measured position`).toBe(true);
    const [, url] = (await serve(['ros', '--env', 'PandaReach-v0', '--port', '0'], /on (ws:\/\/127\.0\.0\.1:\d+)/)) as RegExpMatchArray;
    const server = children.at(-1) as ChildProcess;
    // Its first answer comes after it set up its signal handlers (a SIGINT right after the
    // "serving" line could find none yet and kill it outright).
    const probe = new WebSocket(url as string);
    await new Promise((r) => probe.once('open', r));
    probe.send(JSON.stringify({ op: 'subscribe', topic: '/joint_states' }));
    await new Promise((r) => probe.once('message', r));
    probe.close();
    const stopped = runToEnd(server);
    server.kill('SIGINT');
    const s = await stopped;
    expect(s.code).toBe(0);
    expect(s.stderr).toMatch(/SIGINT: robot holding/);
    // Generous: on a loaded machine (load ~20 on 2 cores) the two CLI starts alone took ~59 s.
  }, 120_000);
});

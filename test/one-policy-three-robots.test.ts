import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

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
}

describe('one policy, three robots (through the real CLI)', () => {
  it('a checkpoint trained in simulation runs unchanged on the sim, over ROS and over serial, with agreeing returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-3robots-'));
    const config = join(dir, 'reach.yaml');
    writeFileSync(
      config,
      ['name: reach-tiny', 'env: { id: PandaReach-v0 }', 'algo: { kind: sac, hidden: [16, 16], batchSize: 32, learningStarts: 100 }', 'train: { steps: 300, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 300, logEvery: 100 }', ''].join('\n'),
    );
    const runDir = join(dir, 'run');
    await roborl('train', config, '--run-dir', runDir, '--quiet');
    const episodes = '6';
    const evalOn = async (...robot: string[]): Promise<EvalSummary> => JSON.parse(await roborl('eval', runDir, '--episodes', episodes, '--json', ...robot)) as EvalSummary;

    const sim = await evalOn();

    const [, url] = (await serve(['ros', '--env', 'PandaReach-v0', '--port', '0', '--mode', 'lockstep'], /on (ws:\/\/127\.0\.0\.1:\d+)/)) as RegExpMatchArray;
    const rosYaml = join(dir, 'ros.yaml');
    writeFileSync(rosYaml, `kind: ros\ntask: PandaReach-v0\nurl: ${url}\ncommand: { topic: /joint_group_position_controller/command, type: std_msgs/Float64MultiArray }\n`);
    const ros = await evalOn('--robot', rosYaml);

    const host = join(dir, 'host');
    const robotTty = join(dir, 'robot');
    const socat = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${robotTty}`], { stdio: 'ignore' });
    children.push(socat);
    while (!existsSync(robotTty) || !existsSync(host)) await new Promise((r) => setTimeout(r, 10));
    await serve(['serial', '--env', 'PandaReach-v0', '--protocol', 'dynamixel', '--port', robotTty, '--mode', 'lockstep'], /Dynamixel X-series servos/);
    const serialYaml = join(dir, 'serial.yaml');
    // A generous bus timeout: the emulator shares this loaded CI machine (real servos answer in < 1 ms).
    writeFileSync(serialYaml, `kind: dynamixel\ntask: PandaReach-v0\nport: ${host}\ntimeoutMs: 100\n`);
    const serial = await evalOn('--robot', serialYaml);

    expect([sim.on, ros.on, serial.on]).toEqual(['sim', 'ros', 'dynamixel']);
    // Same deterministic policy, same per-seed goals and start poses: the returns agree to within
    // 5% (start poses on robots are reached to 0.01 rad, not exactly; measured: < 1%).
    const tolerance = 0.05 * Math.abs(sim.returnMean);
    expect(Math.abs(ros.returnMean - sim.returnMean)).toBeLessThan(tolerance);
    expect(Math.abs(serial.returnMean - sim.returnMean)).toBeLessThan(tolerance);
    process.stderr.write(`one policy, three robots: sim ${sim.returnMean.toFixed(3)}, ros ${ros.returnMean.toFixed(3)}, serial ${serial.returnMean.toFixed(3)} (tolerance ${tolerance.toFixed(3)})\n`);
  }, 240_000);
});

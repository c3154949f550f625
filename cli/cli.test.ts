import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../test/wait-for.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('./bin.mjs', import.meta.url));

async function roborl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('roborl CLI', () => {
  it('envs --json lists every env with sizes, rate and constraint names', async () => {
    const { stdout, code } = await roborl('envs', '--json');
    expect(code).toBe(0);
    const rows = JSON.parse(stdout) as { id: string; observationSize: number; actionSize: number; controlHz: number; constraints: string[] }[];
    expect(rows.find((r) => r.id === 'PandaReach-v0')).toMatchObject({ observationSize: 23, actionSize: 7, controlHz: 25, constraints: ['joint_velocity', 'table_contact'] });
    expect(rows.find((r) => r.id === 'Pendulum-v1')).toMatchObject({ observationSize: 3, actionSize: 1, controlHz: 20, constraints: ['joint_velocity'] });
    expect(rows.find((r) => r.id === 'PandaPickCube-v0')).toMatchObject({ observationSize: 32, actionSize: 8, controlHz: 25, constraints: ['joint_velocity', 'table_contact'] });
    expect(rows.find((r) => r.id === 'PandaPush-v1')).toMatchObject({ observationSize: 30, actionSize: 7, controlHz: 25, constraints: ['joint_velocity', 'table_contact'] });
    expect(rows).toHaveLength(12);
  });

  it('run prints episode statistics; scripted beats random on Pendulum-v1', async () => {
    const scripted = await roborl('run', 'Pendulum-v1', '--policy', 'scripted', '--episodes', '3', '--json');
    const random = await roborl('run', 'Pendulum-v1', '--policy', 'random', '--episodes', '3', '--json');
    expect(scripted.code).toBe(0);
    const s = JSON.parse(scripted.stdout) as { episodes: number; returnMean: number; lengthMean: number; costMeans: Record<string, number> };
    const r = JSON.parse(random.stdout) as { returnMean: number };
    expect(s.episodes).toBe(3);
    expect(s.lengthMean).toBe(200);
    expect(Object.keys(s.costMeans)).toEqual(['joint_velocity']);
    expect(s.returnMean).toBeGreaterThan(r.returnMean + 300);
    expect(scripted.stderr).toMatch(/3\/3 return/); // progress line
  });

  it('fails clearly on an unknown env, a bad flag value and a misspelt option', async () => {
    const unknown = await roborl('run', 'PandaRaech-v0');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Unknown env id "PandaRaech-v0"\. Did you mean "PandaReach-v0"/);
    expect(unknown.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace for user errors
    const bad = await roborl('run', 'Pendulum-v1', '--episodes', '-2');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Expected --episodes to be an integer ≥ 1, got `-2`/);
    const typo = await roborl('run', 'Pendulum-v1', '--epsiodes', '2');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option --epsiodes \(options: --policy, --episodes, --seed, --json\)/);
    expect(typo.stdout).toBe(''); // nothing ran
  });

  it('every command has its own --help listing every flag it takes (the speed is measured by npm run bench -- cli)', async () => {
    const expected: Record<string, string[]> = {
      envs: ['--json'],
      run: ['--policy', '--episodes', '--seed', '--json'],
      train: ['--run-dir', '--resume', '--steps', '--backend', '--teleop', '--quiet'],
      eval: ['--episodes', '--seed', '--json', '--robot', '--record'],
      serve: ['--host', '--port', '--mode', '--sensor-hz', '--command-type', '--flavor', '--protocol', '--baud'],
      'record-demos': ['--env', '--policy', '--episodes', '--out', '--seed', '--keep-failures', '--starts'],
      dashboard: ['--port', '--host'],
      plot: ['--metric', '--out', '--title'],
      compare: ['--metric', '--at', '--n', '--K', '--alpha', '--json'],
    };
    for (const [command, flags] of Object.entries(expected)) {
      const help = await roborl(command, '--help');
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`usage:[\\s\\S]*roborl ${command}`));
      for (const f of flags) expect(help.stdout, `${command} ${f}`).toContain(f);
      expect(help.stderr).toBe('');
    }
    const main = await roborl('--help');
    for (const command of Object.keys(expected)) expect(main.stdout).toContain(`roborl ${command}`);
  });

  it('serve ros and dashboard on a busy port name --port', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    const r = await roborl('serve', 'ros', '--env', 'PandaReach-v0', '--port', String(port));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`port ${port} .* already in use.*--port`));
    const dash = await roborl('dashboard', '--port', String(port));
    expect(dash.code).toBe(2);
    expect(dash.stderr).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    busy.close();
  });

  it('serve --record writes the served arm\'s scene as it runs, for the dashboard to follow; Ctrl-C ends it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-serve-rec-'));
    const file = join(dir, 'scenes', 'served.scene.jsonl');
    const child = spawn(process.execPath, [bin, 'serve', 'ros', '--env', 'PandaReach-v0', '--port', '0', '--record', file], { stdio: 'ignore' });
    const frames = (): number => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"frame"')).length : 0);
    await waitFor('first frames', () => frames() >= 3, 60_000);
    const seen = frames();
    await waitFor('more frames while it runs', () => frames() > seen + 2, 20_000);
    child.kill('SIGINT');
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
    const [header] = readFileSync(file, 'utf8').split('\n');
    expect(JSON.parse(header as string)).toMatchObject({ type: 'scene', env: 'PandaReach-v0', hz: 10 });
    expect((JSON.parse(header as string) as { shapes: unknown[] }).shapes).toHaveLength(13);
  }, 90_000);
});

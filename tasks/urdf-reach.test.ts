import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { make } from './registry.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

/** A 3-DoF arm a user might write: a ±2π base joint (as on UR arms), a shoulder and an elbow. */
const ARM = `<robot name="my_arm">
  <link name="base"/>
  <link name="turret"><inertial><mass value="1"/><inertia ixx="0.004" ixy="0" ixz="0" iyy="0.004" iyz="0" izz="0.004"/></inertial></link>
  <link name="upper"><inertial><origin xyz="0 0 0.15"/><mass value="1"/><inertia ixx="0.008" ixy="0" ixz="0" iyy="0.008" iyz="0" izz="0.001"/></inertial>
    <collision><origin xyz="0 0 0.15"/><geometry><box size="0.04 0.04 0.3"/></geometry></collision></link>
  <link name="fore"><inertial><origin xyz="0 0 0.12"/><mass value="0.5"/><inertia ixx="0.003" ixy="0" ixz="0" iyy="0.003" iyz="0" izz="0.0005"/></inertial>
    <collision><origin xyz="0 0 0.12"/><geometry><box size="0.03 0.03 0.24"/></geometry></collision></link>
  <link name="tool0"/>
  <joint name="base_yaw" type="revolute"><parent link="base"/><child link="turret"/><origin xyz="0 0 0.1"/><axis xyz="0 0 1"/><limit lower="-6.2832" upper="6.2832" effort="20" velocity="2"/></joint>
  <joint name="shoulder" type="revolute"><parent link="turret"/><child link="upper"/><axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" effort="20" velocity="2"/></joint>
  <joint name="elbow" type="revolute"><parent link="upper"/><child link="fore"/><origin xyz="0 0 0.3"/><axis xyz="0 1 0"/><limit lower="-2" upper="2" effort="10" velocity="2"/></joint>
  <joint name="tool" type="fixed"><parent link="fore"/><child link="tool0"/><origin xyz="0 0 0.24"/></joint>
</robot>`;

describe('UrdfReach-v0: a user’s own URDF, from a config', () => {
  it('loads the arm (its ±2π joint included), holds it under gravity compensation, and refuses bad files clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-urdf-'));
    const urdf = join(dir, 'my_arm.urdf');
    writeFileSync(urdf, ARM);
    const env = await make('UrdfReach-v0', { options: { urdf, tip: 'tool0' } });
    expect(env.spec.actionSpace.kind === 'box' && env.spec.actionSpace.low.length).toBe(3);
    expect(env.spec.observationSpace.kind === 'box' && env.spec.observationSpace.low.length).toBe(12);
    const { obs: o0 } = await env.reset({ seed: 3 });
    const distance = (o: Float32Array): number => Math.hypot(o[6]! - o[9]!, o[7]! - o[10]!, o[8]! - o[11]!);
    let obs = o0;
    for (let t = 0; t < 40; t++) obs = (await env.step(new Float32Array(3))).obs;
    const held = distance(obs);
    expect(Math.abs(held - distance(o0))).toBeLessThan(0.02); // holding: the arm stays put under gravity compensation
    await expect(make('UrdfReach-v0', { options: { urdf, tip: 'flange' } })).rejects.toThrow(/tip link "flange" is not in URDF robot "my_arm" \(links: base, turret, upper, fore, tool0\)/);
    await expect(make('UrdfReach-v0', { options: { urdf: join(dir, 'nope.urdf') } })).rejects.toThrow(/URDF file .*nope\.urdf not found/);
    const broken = join(dir, 'broken.urdf');
    writeFileSync(broken, ARM.replace('upper="1.5"', 'upper="0x10"'));
    await expect(make('UrdfReach-v0', { options: { urdf: broken } })).rejects.toThrow(/URDF file .*broken\.urdf: joint "shoulder" <limit> upper: expected a decimal number, got "0x10"/);
    await env.close();
  });

  it('roborl train takes the URDF from env.options (relative to the config), checked before the run folder is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roborl-urdf-cli-'));
    writeFileSync(join(dir, 'my_arm.urdf'), ARM);
    const config = (file: string): string =>
      `name: my-arm\nenv: { id: UrdfReach-v0, options: { urdf: ${file}, tip: tool0 } }\nalgo: { kind: sac, hidden: [16, 16], batchSize: 16, learningStarts: 50 }\ntrain: { steps: 100, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 100, logEvery: 50 }\n`;
    writeFileSync(join(dir, 'bad.yaml'), config('missing.urdf'));
    const bad = await run(process.execPath, [bin, 'train', join(dir, 'bad.yaml'), '--run-dir', join(dir, 'run'), '--quiet']).catch((e: { stderr: string }) => e);
    expect((bad as { stderr: string }).stderr).toMatch(/missing\.urdf not found/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
    writeFileSync(join(dir, 'good.yaml'), config('my_arm.urdf'));
    const ok = await run(process.execPath, [bin, 'train', join(dir, 'good.yaml'), '--run-dir', join(dir, 'run'), '--quiet']);
    expect(ok.stdout).toMatch(/my-arm: 100 env steps/);
  }, 120_000);
});

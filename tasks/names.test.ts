import { afterAll, describe, expect, it } from 'vitest';
import { checkEnv } from '../control/check-env.js';
import type { Env } from '../control/env.js';
import { findSceneSource } from '../control/scene.js';
import { loadDescription } from '../sim/descriptions.js';
import { PANDA_MAX_DELTA, pandaTcpOfAction, pandaTcpPose, pandaTcpTeleop } from './panda.js';
import { envEntry, make } from './registry.js';

const closers: Env[] = [];
async function env(id: string): Promise<Env> {
  const e = await make(id);
  closers.push(e);
  return e;
}

/** The observation entry called `name`. */
function named(e: Env, obs: Float32Array, name: string): number {
  const i = e.spec.observationNames?.indexOf(name) ?? -1;
  if (i < 0) throw new Error(`${e.spec.id} has no observation named ${name}: ${e.spec.observationNames?.join(', ')}`);
  return obs[i] as number;
}

/** Where the scene draws shape `name` (x, y, z). */
function shapeAt(e: Env, name: string): number[] {
  const s = findSceneSource(e)?.scene();
  const i = s?.shapes.findIndex((x) => x.name === name) ?? -1;
  if (!s || i < 0) throw new Error(`${e.spec.id} draws no ${name}`);
  return s.poses.slice(7 * i, 7 * i + 3);
}

describe('tasks name their observation and action fields', () => {
  it.each(['PandaReach-v0', 'PandaPush-v0', 'PandaPush-v1', 'PandaKeepOut-v0', 'Pendulum-v1', 'RapierPendulum-v0', 'CartPoleContinuous-v0', 'Reacher2D-v0'])('%s: one name per entry, and checkEnv agrees', async (id) => {
    const e = await env(id);
    const { obs } = await e.reset({ seed: 3 });
    expect(e.spec.observationNames?.length).toBe(obs.length);
    expect(e.spec.actionNames?.length).toBe(e.spec.actionSpace.kind === 'box' ? e.spec.actionSpace.low.length : 1);
    await checkEnv(e, { steps: 5, maxEpisodeSteps: 600 });
  }, 60_000);

  it('the Panda names say what the numbers are: q from the joints, the TCP, the goal and the cube where the scene draws them', async () => {
    for (const id of ['PandaReach-v0', 'PandaPush-v0']) {
      const e = await env(id);
      const { obs } = await e.reset({ seed: 5 });
      const r = await e.step(Float32Array.of(0.5, -0.3, 0.2, 0.4, 0, 0.3, 0));
      const q = Array.from({ length: 7 }, (_, i) => named(e, r.obs, `q${i + 1}`));
      const tcp = pandaTcpPose(loadDescription('panda'), q).p;
      for (const [k, axis] of ['x', 'y', 'z'].entries()) expect(named(e, r.obs, `tcp ${axis}`)).toBeCloseTo(tcp[k] as number, 3);
      expect(e.spec.actionNames).toEqual(['Δq1', 'Δq2', 'Δq3', 'Δq4', 'Δq5', 'Δq6', 'Δq7']);
      if (id === 'PandaReach-v0') {
        const goal = shapeAt(e, 'goal');
        expect(['x', 'y', 'z'].map((a) => named(e, obs, `goal ${a}`))).toEqual(goal.map((v) => expect.closeTo(v, 3)));
        expect(named(e, r.obs, 'goal−tcp z')).toBeCloseTo((goal[2] as number) - named(e, r.obs, 'tcp z'), 4);
      } else {
        const cube = shapeAt(e, 'cube');
        expect(['x', 'y', 'z'].map((a) => named(e, r.obs, `cube ${a}`))).toEqual(cube.map((v) => expect.closeTo(v, 3)));
        expect(['x', 'y'].map((a) => named(e, r.obs, `goal ${a}`))).toEqual(shapeAt(e, 'goal').slice(0, 2).map((v) => expect.closeTo(v, 3)));
      }
    }
  }, 60_000);
});

describe('the policy proposal in the tool frame', () => {
  it('tcpOfAction: the tool-frame command that moves the TCP as the joint-delta action does (forward kinematics); it inverts the tool-frame teleop', async () => {
    const e = await env('PandaReach-v0');
    const { obs } = await e.reset({ seed: 2 });
    expect(envEntry('PandaReach-v0').tcpOfAction).toBe(pandaTcpOfAction);
    const ofAction = pandaTcpOfAction();
    const toAction = pandaTcpTeleop();
    const robot = loadDescription('panda');
    const q = Array.from(obs.subarray(0, 7));
    const tcpAfter = (a: Float32Array): number[] => pandaTcpPose(robot, q.map((x, i) => x + PANDA_MAX_DELTA * (a[i] as number))).p;
    // Joint 1 alone turns the arm about the base's z axis: the TCP moves sideways, not up.
    const a = Float32Array.of(0.3, 0, 0, 0, 0, 0, 0);
    const v = ofAction(obs, a);
    expect(Math.abs(v[1] as number)).toBeGreaterThan(0.3);
    expect(Math.abs(v[2] as number)).toBeLessThan(0.1 * Math.abs(v[1] as number));
    // The person's command v, through the teleop's IK, moves the TCP where the policy's action does (within 1 mm of a ~1 cm move).
    const policyGoes = tcpAfter(a);
    const personGoes = tcpAfter(toAction(obs, v));
    expect(Math.hypot(...policyGoes.map((p, k) => p - (personGoes[k] as number)))).toBeLessThan(1e-3);
    expect(Math.hypot(...policyGoes.map((p, k) => p - (pandaTcpPose(robot, q).p[k] as number)))).toBeGreaterThan(5e-3);
    // And the person's own command reads back as itself (below the joint-delta clip a full-scale command can reach).
    for (const cmd of [Float32Array.of(0.5, 0, 0), Float32Array.of(0, -0.4, 0.3), Float32Array.of(0, 0, -0.3)]) {
      const back = ofAction(obs, toAction(obs, cmd));
      expect(Array.from(back)).toEqual(Array.from(cmd, (c) => expect.closeTo(c, 1)));
    }
  });
});

afterAll(async () => {
  for (const e of closers.splice(0)) await e.close();
});

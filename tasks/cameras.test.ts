import { describe, expect, it } from 'vitest';
import { checkEnv } from '../control/check-env.js';
import type { Env } from '../control/env.js';
import type { DictObservation, Observation } from '../control/spaces.js';
import { ConfigError, validateConfig } from '../experiment/config.js';
import { makeObserved, splitCameraOptions } from './cameras.js';

const dictOf = (o: Observation): DictObservation => {
  if (o instanceof Float32Array) throw new Error('expected a dict observation');
  return o;
};

async function frames(env: Env<Observation>, seed: number, steps: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const r = await env.reset({ seed });
  out.push(Uint8Array.from(dictOf(r.obs)['front'] as Uint8Array));
  const a = new Float32Array(7).fill(0.3);
  for (let i = 0; i < steps; i++) out.push(Uint8Array.from(dictOf((await env.step(a)).obs)['front'] as Uint8Array));
  return out;
}

/** Pixels where green clearly dominates: the see-through goal sphere (the arm is orange, the table grey). */
function greenPixels(rgb: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < rgb.length; p += 3) {
    const [r, g, b] = [rgb[p] as number, rgb[p + 1] as number, rgb[p + 2] as number];
    if (g > r + 25 && g > b + 25) n++;
  }
  return n;
}

describe('env.options.cameras on the Panda tasks', () => {
  it('PandaReach-v0 with the front preset and state: proprio observes {state (q, q̇, TCP), front 64×64×3} and passes checkEnv', async () => {
    const env = await makeObserved('PandaReach-v0', { options: { cameras: ['front'], state: 'proprio' } });
    try {
      const space = env.spec.observationSpace;
      expect(space.kind).toBe('dict');
      if (space.kind !== 'dict') return;
      expect(space.state.low.length).toBe(17);
      expect(env.spec.observationNames?.slice(-3)).toEqual(['tcp x', 'tcp y', 'tcp z']);
      expect(space.cameras['front']).toEqual({ kind: 'image', height: 64, width: 64, channels: 3 });
      await checkEnv(env, { steps: 6 });
      const r = await env.reset({ seed: 3 });
      expect(dictOf(r.obs).state).toHaveLength(17);
      expect(dictOf(r.obs)['front']).toHaveLength(64 * 64 * 3);
    } finally {
      await env.close();
    }
  });

  it('frames change as the arm moves, and are the same bytes for the same seed (randomised camera included)', async () => {
    const cam = { name: 'front', width: 24, height: 24, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] }, randomize: { positionM: 0.02, colorJitter: 0.2 } };
    const a = await makeObserved('PandaReach-v0', { options: { cameras: [cam] } });
    const b = await makeObserved('PandaReach-v0', { options: { cameras: [cam] } });
    try {
      const fa = await frames(a, 11, 3);
      const fb = await frames(b, 11, 3);
      fa.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(fb[i] as Uint8Array))).toBe(true));
      expect(Buffer.from(fa[0] as Uint8Array).equals(Buffer.from(fa[3] as Uint8Array))).toBe(false);
      const other = await frames(b, 12, 0);
      expect(Buffer.from(fa[0] as Uint8Array).equals(Buffer.from(other[0] as Uint8Array))).toBe(false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the reset frame is the same bytes on Rapier and MuJoCo', async () => {
    const envs = await Promise.all(['rapier', 'mujoco'].map((engine) => makeObserved('PandaReach-v0', { options: { engine, cameras: [{ name: 'front', width: 32, height: 32, pose: { kind: 'fixed', position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] } }] } })));
    try {
      const [r, m] = await Promise.all(envs.map((e) => frames(e, 5, 0)));
      expect(Buffer.from(r![0] as Uint8Array).equals(Buffer.from(m![0] as Uint8Array))).toBe(true);
    } finally {
      for (const e of envs) await e.close();
    }
  });

  it("PandaReach-v0's goal is a visible marker in the 64×64 front frame (at every one of 8 seeds)", async () => {
    const env = await makeObserved('PandaReach-v0', { options: { cameras: ['front'] } });
    try {
      for (let seed = 0; seed < 8; seed++) {
        const f = dictOf((await env.reset({ seed })).obs)['front'] as Uint8Array;
        expect(greenPixels(f), `seed ${seed}`).toBeGreaterThanOrEqual(12);
      }
    } finally {
      await env.close();
    }
  });

  it('PandaPickCube-v0 with front + wrist and state: proprio keeps q, q̇, TCP and the gripper width', async () => {
    const env = await makeObserved('PandaPickCube-v0', { options: { cameras: ['front', { name: 'wrist', width: 32, height: 32, fovDeg: 70, pose: { kind: 'attached', link: 'panda_hand', position: [0.06, 0, 0], lookAt: [0, 0, 0.18], up: [1, 0, 0] } }], state: 'proprio' } });
    try {
      const space = env.spec.observationSpace;
      if (space.kind !== 'dict') throw new Error('expected a dict space');
      expect(space.state.low.length).toBe(18);
      expect(env.spec.observationNames?.at(-1)).toBe('gripper width');
      expect(Object.keys(space.cameras)).toEqual(['front', 'wrist']);
      const o = dictOf((await env.reset({ seed: 1 })).obs);
      expect(o['wrist']).toHaveLength(32 * 32 * 3);
    } finally {
      await env.close();
    }
  });

  it('state: proprio without cameras gives the bare proprioceptive vector', async () => {
    const env = await makeObserved('PandaReach-v0', { options: { state: 'proprio' } });
    try {
      expect(env.spec.observationSpace.kind).toBe('box');
      const r = await env.reset({ seed: 0 });
      expect(r.obs).toBeInstanceOf(Float32Array);
      expect((r.obs as Float32Array).length).toBe(17);
    } finally {
      await env.close();
    }
  });

  it('bad camera options are refused with errors that name the field', () => {
    expect(() => splitCameraOptions('PandaReach-v0', { cameras: ['side'] })).toThrow(/cameras\.0: unknown camera preset "side" \(presets: front, wrist\)/);
    expect(() => splitCameraOptions('PandaReach-v0', { cameras: [{ name: 'front', fovDeg: 0, pose: { kind: 'fixed', position: [1, 0, 1], lookAt: [0, 0, 0] } }] })).toThrow(/cameras\.0\.fovDeg/);
    expect(() => splitCameraOptions('PandaReach-v0', { cameras: 'front' })).toThrow(/cameras: expected a list/);
    expect(() => splitCameraOptions('PandaReach-v0', { cameras: ['front', 'front'] })).toThrow(/used twice/);
    expect(() => splitCameraOptions('PandaReach-v0', { state: 'pixels' })).toThrow(/state: expected "full" or "proprio", got "pixels"/);
  });

  it('an experiment config with a bad camera is refused at load, naming env.options.cameras', () => {
    const raw = (cameras: unknown): unknown => ({ name: 'x', env: { id: 'PandaReach-v0', options: { cameras } }, algo: { kind: 'sac' }, train: { steps: 10 } });
    expect(() => validateConfig(raw(['front']), 'test.yaml')).not.toThrow();
    expect(() => validateConfig(raw([{ name: 'front', width: 0, pose: { kind: 'fixed', position: [1, 0, 1], lookAt: [0, 0, 0] } }]), 'test.yaml')).toThrow(ConfigError);
    expect(() => validateConfig(raw(['sidecam']), 'test.yaml')).toThrow(/env\.options\.cameras\.0: unknown camera preset "sidecam"/);
  });
});

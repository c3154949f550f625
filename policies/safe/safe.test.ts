import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { selectBackend } from '../backend.js';
import { mlpForward, mlpVariables, type Mlp } from '../nn/mlp.js';
import { TfMirror } from '../sac/tf-reference.js';
import { allocBatch } from '../replay.js';
import { resolveSacConfig, SacConfigSchema } from '../sac/config.js';
import { SacLearner } from '../sac/sac.js';
import { LagrangeMultiplier, type MultiplierConfig } from './lagrange.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

const BASE: MultiplierConfig = { method: 'lagrangian', init: 0, max: 10, lr: 0.1, kp: 0.1, ki: 0.01, kd: 0.01, ema: 0.5, delay: 2 };

describe('Lagrange multipliers', () => {
  it('lagrangian: λ rises while the cost exceeds its limit, falls back and never goes below 0 or above max', () => {
    const m = new LagrangeMultiplier('keep_out', 2, BASE);
    m.update(7);
    expect(m.lambda).toBeCloseTo(0.5, 12);
    m.update(7);
    expect(m.lambda).toBeCloseTo(1.0, 12);
    for (let i = 0; i < 100; i++) m.update(0);
    expect(m.lambda).toBe(0);
    for (let i = 0; i < 1000; i++) m.update(1000);
    expect(m.lambda).toBe(10);
    expect(() => m.update(Number.NaN)).toThrow(/episode cost is NaN/);
  });

  it('pid: the integral accumulates K_i·Δ, P follows the EMA of Δ, D reacts only to rising cost', () => {
    const m = new LagrangeMultiplier('c', 1, { ...BASE, method: 'pid', kp: 1, ki: 0.5, kd: 2, ema: 1, delay: 1 });
    // Δ = 2: I = 1, P = 2, D = 0 (first value) → λ = 3
    expect(m.update(3)).toBeCloseTo(3, 12);
    // Δ = 4: I = 3, P = 4, D = 5 − 3 = 2 → λ = 3 + 4 + 4 = 11 → clipped at max 10
    expect(m.update(5)).toBe(10);
    // Δ = −1: I = 2.5, P = −1, D = 0 (falling) → λ = 1.5
    expect(m.update(0)).toBeCloseTo(1.5, 12);
  });

  it('state round-trips (what checkpoints hold) and a malformed state is refused', () => {
    const a = new LagrangeMultiplier('c', 1, { ...BASE, method: 'pid' });
    for (const c of [3, 0.5, 4, 2]) a.update(c);
    const b = new LagrangeMultiplier('c', 1, { ...BASE, method: 'pid' });
    b.restore(a.state());
    expect(b.update(1.7)).toBe(a.update(1.7));
    expect(() => b.restore({} as never)).toThrow(/malformed multiplier state/);
  });
});

describe('SAC-Lagrangian learner', () => {
  it('actor gradient with λ·Q_c terms matches autodiff of (α log π − Q + Σ λᵢ max_k Q_cᵢ,k)/(1 + Σ λᵢ)', () => {
    const rng = new Rng(8);
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [16, 16], critics: 2, safe: { constraints: { a: { limit: 1 }, b: { limit: 2 } } } }));
    const learner = new SacLearner(config, 4, 2, rng, [2, 0], 3);
    learner.lambdas.set([0.7, 1.9]);
    const B = 12;
    const batch = allocBatch({ capacity: 1, obsDim: 4, actDim: 2, costDim: 3 }, B);
    for (let i = 0; i < batch.obs.length; i++) batch.obs[i] = rng.normal();
    const epsArr = Float32Array.from({ length: B * 2 }, () => rng.normal());
    const eps = tf.tensor2d(epsArr, [B, 2]);
    const alpha = 0.2;
    const obs = tf.tensor2d(batch.obs, [B, 4]);
    const q = (m: Mlp, a: tf.Tensor2D): tf.Tensor1D => tf.reshape(mlpForward(m, tf.concat([obs, a], 1)), [-1]);
    const mirror = new TfMirror(learner);
    const ref = tf.variableGrads(() => {
      const { action, logProb } = mirror.policy(obs, eps);
      const qr = tf.minimum(q(mirror.critics[0]!, action), q(mirror.critics[1]!, action));
      // Two cost critics per constraint (the default), constraint-major; the actor sees their max.
      const c = mirror.costCritics;
      expect(c).toHaveLength(4);
      const qc = tf.add(tf.mul(0.7, tf.maximum(q(c[0]!, action), q(c[1]!, action))), tf.mul(1.9, tf.maximum(q(c[2]!, action), q(c[3]!, action))));
      return tf.div(tf.mean(tf.add(tf.sub(tf.mul(alpha, logProb), qr), qc)), 1 + 0.7 + 1.9) as tf.Scalar;
    }, mlpVariables(mirror.actor));
    const ours = learner.actorGradients(batch, epsArr, alpha);
    expect(ours.loss).toBeCloseTo(ref.value.dataSync()[0] as number, 4);
    mlpVariables(mirror.actor).forEach((v, i) => {
      const a = ours.grads[i]!;
      const b = ref.grads[v.name]!.dataSync() as Float32Array;
      const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!) / scale).toBeLessThan(2e-4);
    });
    mirror.dispose();
    learner.dispose();
  });

  it('cost critics regress onto c + γ·max_k Q̄_c,k(s′, a′), reading their own cost column', () => {
    const rng = new Rng(9);
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8], critics: 2, safe: { constraints: { a: { limit: 1 } } } }));
    const learner = new SacLearner(config, 2, 1, rng, [1], 2);
    const B = 4;
    const batch = allocBatch({ capacity: 1, obsDim: 2, actDim: 1, costDim: 2 }, B);
    for (let i = 0; i < 2 * B; i++) [batch.obs[i], batch.nextObs[i]] = [rng.normal(), rng.normal()];
    batch.costs.set([9, 1, 9, 0, 9, 1, 9, 0]); // column 1 is the constrained one; column 0 must be ignored
    batch.discount.set([0, 0.9, 0, 0.9]); // rows 0 and 2 terminal: y_c = c exactly
    const eps = tf.zeros([B, 1]) as tf.Tensor2D;
    const { loss } = learner.costCriticGradients(batch, new Float32Array(B));
    // Before any update the targets equal the critics, so the bootstrap is the max of the critics at (s′, a′).
    const mirror = new TfMirror(learner);
    const [c0, c1] = mirror.costCritics as [Mlp, Mlp];
    const at = (m: Mlp, o: Float32Array, a: tf.Tensor2D): Float32Array => tf.reshape(mlpForward(m, tf.concat([tf.tensor2d(o, [B, 2]), a], 1)), [-1]).dataSync() as Float32Array;
    const nextAction = mirror.policy(tf.tensor2d(batch.nextObs, [B, 2]), eps).action;
    const [n0, n1] = [at(c0, batch.nextObs, nextAction), at(c1, batch.nextObs, nextAction)];
    expect(Array.from(n0).some((v, i) => v !== n1[i])).toBe(true); // the two critics differ, so the max matters
    const y = [1, 0, 1, 0].map((c, i) => c + batch.discount[i]! * Math.max(n0[i]!, n1[i]!));
    const action = tf.tensor2d(batch.action, [B, 1]);
    const expected = [at(c0, batch.obs, action), at(c1, batch.obs, action)].reduce((sum, q) => sum + (0.5 * y.reduce((s, yi, i) => s + (q[i]! - yi) ** 2, 0)) / B, 0);
    expect(loss).toBeCloseTo(expected, 5);
    expect(() => new SacLearner(config, 2, 1, rng, [2], 2)).toThrow(/out of range/);
    mirror.dispose();
    learner.dispose();
  });

  it('costGamma discounts the cost bootstrap on its own (non-terminal rows), and needs 1-step returns', () => {
    const make = (costGamma: number): SacLearner => new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8], gamma: 0.99, safe: { constraints: { a: { limit: 1 } }, costCritics: 1, costGamma } })), 2, 1, new Rng(3), [0], 1);
    const B = 3;
    const batch = allocBatch({ capacity: 1, obsDim: 2, actDim: 1, costDim: 1 }, B);
    batch.obs.set([0.1, 0.2, -0.3, 0.4, 0.5, -0.6]);
    batch.nextObs.set([0.7, -0.8, 0.9, 0.1, -0.2, 0.3]);
    batch.costs.set([1, 0, 1]);
    batch.discount.set([0.99, 0, 0.99]); // row 1 terminal
    const eps = tf.zeros([B, 1]) as tf.Tensor2D;
    const loss = (learner: SacLearner): number => learner.costCriticGradients(batch, new Float32Array(B)).loss;
    // Same seed, so the same networks: only the bootstrap's discount differs.
    const [same, half] = [make(0.99), make(0.5)];
    const mirror = new TfMirror(same);
    const critic = mirror.costCritics[0]!;
    const at = (o: Float32Array, a: tf.Tensor2D): Float32Array => tf.reshape(mlpForward(critic, tf.concat([tf.tensor2d(o, [B, 2]), a], 1)), [-1]).dataSync() as Float32Array;
    const q = at(batch.obs, tf.tensor2d(batch.action, [B, 1]));
    const next = at(batch.nextObs, mirror.policy(tf.tensor2d(batch.nextObs, [B, 2]), eps).action);
    const expected = (g: number): number => (0.5 * [0, 1, 2].reduce((sum, i) => sum + (q[i]! - (batch.costs[i]! + (batch.discount[i]! > 0 ? g : 0) * next[i]!)) ** 2, 0)) / B;
    expect(loss(same)).toBeCloseTo(expected(0.99), 5);
    expect(loss(half)).toBeCloseTo(expected(0.5), 5);
    expect(Math.abs(expected(0.99) - expected(0.5))).toBeGreaterThan(1e-3);
    mirror.dispose();
    same.dispose();
    half.dispose();
    expect(() => resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', nStep: 3, safe: { constraints: { a: { limit: 1 } }, costGamma: 0.9 } }))).toThrow(/costGamma \(0.9\) differs from algo.gamma \(0.99\): that needs algo.nStep 1/);
  });
});

import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { BackendUnavailableError, selectBackend } from '../backend.js';
import { Adam } from '../nn/adam.js';
import { mlpBackward, mlpForwardTape } from '../nn/mlp-backprop.js';
import { createMlp, mlpForward, mlpVariables, type MlpSpec } from '../nn/mlp.js';
import { MlpJs } from '../nn/mlp-js.js';
import { allocBatch, type Batch } from '../replay.js';
import { resolveSacConfig, SacConfigSchema } from './config.js';
import { SacLearner, sampleSubset } from './sac.js';
import { boundLogStd, squashedLogProbReference, squashedSample } from './squashed-gaussian.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

function maxRelErr(a: Float32Array | number[], b: Float32Array | number[]): number {
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / scale);
  return worst;
}

function randomBatch(rng: Rng, obsDim: number, actDim: number, size: number): Batch {
  const b = allocBatch({ capacity: 1, obsDim, actDim, costDim: 0 }, size);
  for (const arr of [b.obs, b.nextObs, b.reward]) for (let i = 0; i < arr.length; i++) arr[i] = rng.normal();
  for (let i = 0; i < b.action.length; i++) b.action[i] = rng.uniform(-0.99, 0.99);
  for (let i = 0; i < size; i++) b.discount[i] = rng.random() < 0.2 ? 0 : 0.99;
  return b;
}

describe('squashed Gaussian', () => {
  it('log-density matches a float64 change-of-variables reference', () => {
    const rng = new Rng(1);
    const mean = Array.from({ length: 12 }, () => rng.normal());
    const logStd = Array.from({ length: 12 }, () => rng.uniform(-2, 0.5));
    const eps = Array.from({ length: 12 }, () => rng.normal());
    const { action, logProb } = tf.tidy(() => squashedSample(tf.tensor2d(mean, [3, 4]), tf.tensor2d(logStd, [3, 4]), tf.tensor2d(eps, [3, 4])));
    const lp = logProb.dataSync();
    const a = action.dataSync();
    for (let r = 0; r < 3; r++) {
      const u = [0, 1, 2, 3].map((k) => (mean[r * 4 + k] as number) + Math.exp(logStd[r * 4 + k] as number) * (eps[r * 4 + k] as number));
      expect(lp[r]).toBeCloseTo(squashedLogProbReference(mean.slice(r * 4, r * 4 + 4), logStd.slice(r * 4, r * 4 + 4), u), 3);
      u.forEach((ui, k) => expect(a[r * 4 + k]).toBeCloseTo(Math.tanh(ui), 6));
    }
  });

  it('stays finite for saturated actions (|u| = 20)', () => {
    const { logProb } = tf.tidy(() => squashedSample(tf.tensor2d([[20, -20]]), tf.tensor2d([[-5, -5]]), tf.tensor2d([[0, 0]])));
    expect(Number.isFinite(logProb.dataSync()[0] as number)).toBe(true);
  });

  it('bounds log σ smoothly inside [min, max]', () => {
    const v = tf.tidy(() => boundLogStd(tf.tensor2d([[-100, 0, 100]]), -5, 2)).dataSync();
    expect(v[0]).toBeCloseTo(-5, 5);
    expect(v[1]).toBeCloseTo(-1.5, 5);
    expect(v[2]).toBeCloseTo(2, 5);
  });
});

describe.each<[string, Omit<MlpSpec, 'input' | 'output'>]>([
  ['relu', { hidden: [16, 16], layerNorm: false, activation: 'relu' }],
  ['tanh + LayerNorm', { hidden: [16, 12], layerNorm: true, activation: 'tanh' }],
  ['elu', { hidden: [8], layerNorm: false, activation: 'elu' }],
])('hand-written MLP backprop (%s)', (_, trunk) => {
  it('matches tfjs autodiff for parameter and input gradients', () => {
    const rng = new Rng(2);
    const m = createMlp({ input: 5, output: 3, ...trunk }, rng, `bp-${trunk.activation}`);
    const x = tf.tensor2d(Array.from({ length: 40 }, () => rng.normal()), [8, 5]);
    const dOut = tf.tensor2d(Array.from({ length: 24 }, () => rng.normal()), [8, 3]);
    const vars = mlpVariables(m);
    const loss = (input: tf.Tensor2D): tf.Scalar => tf.sum(tf.mul(mlpForward(m, input), dOut));
    const auto = tf.variableGrads(() => loss(x), vars);
    const autoInput = tf.grad((input: tf.Tensor) => loss(input as tf.Tensor2D))(x);
    const manual = tf.tidy(() => {
      const { out, tape } = mlpForwardTape(m, x);
      expect(maxRelErr(out.dataSync() as Float32Array, mlpForward(m, x).dataSync() as Float32Array)).toBeLessThan(1e-5);
      const r = mlpBackward(m, tape, dOut, { params: true, input: true });
      return { grads: r.grads, dInput: r.dInput as tf.Tensor2D };
    });
    vars.forEach((v, i) => expect(maxRelErr(manual.grads[i]!.dataSync() as Float32Array, auto.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(1e-4));
    expect(maxRelErr(manual.dInput!.dataSync() as Float32Array, autoInput.dataSync() as Float32Array)).toBeLessThan(1e-4);
  });

  it('the typed-array inference MLP matches the tfjs forward pass', () => {
    const rng = new Rng(3);
    const m = createMlp({ input: 5, output: 3, ...trunk }, rng, `js-${trunk.activation}`);
    const read = (vs: tf.Variable[]): Float32Array[] => vs.map((v) => v.dataSync() as Float32Array);
    const js = new MlpJs({ spec: m.spec, w: read(m.w), b: read(m.b), lnGain: read(m.lnGain), lnBias: read(m.lnBias) });
    for (let t = 0; t < 5; t++) {
      const x = Float32Array.from({ length: 5 }, () => rng.normal());
      const ref = tf.tidy(() => mlpForward(m, tf.tensor2d(x, [1, 5])).dataSync() as Float32Array);
      expect(maxRelErr(js.forward(x), ref)).toBeLessThan(1e-5);
    }
  });
});

describe('SAC learner gradients', () => {
  for (const preset of ['sac', 'rlpd'] as const) {
    it(`${preset}: critic and actor gradients match autodiff of the reference losses`, () => {
      const rng = new Rng(4);
      const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', preset, hidden: [32, 32], critics: 3, criticSubset: 2 }));
      const learner = new SacLearner(config, 5, 2, rng);
      const batch = randomBatch(rng, 5, 2, 16);
      const eps = tf.tensor2d(Array.from({ length: 32 }, () => rng.normal()), [16, 2]);
      const alpha = 0.3;
      const subset = [2, 0];
      const tensors = {
        obs: tf.tensor2d(batch.obs, [16, 5]),
        act: tf.tensor2d(batch.action, [16, 2]),
        reward: tf.tensor1d(batch.reward),
        discount: tf.tensor1d(batch.discount),
        next: tf.tensor2d(batch.nextObs, [16, 5]),
      };
      const q = (m: (typeof learner.critics)[number], o: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D => tf.reshape(mlpForward(m, tf.concat([o, a], 1)), [-1]);

      // Reference critic loss, written the obvious way and differentiated by tfjs.
      const y = tf.tidy(() => {
        const { action: a2, logProb } = learner.policy(tensors.next, eps);
        const targets = (learner as unknown as { targets: typeof learner.critics }).targets;
        let m = subset.map((i) => q(targets[i]!, tensors.next, a2)).reduce((acc, x) => tf.minimum(acc, x));
        if (config.backupEntropy) m = tf.sub(m, tf.mul(alpha, logProb));
        return tf.add(tensors.reward, tf.mul(tensors.discount, m));
      });
      const criticVars = learner.critics.flatMap(mlpVariables);
      const refCritic = tf.variableGrads(() => tf.mul(0.5, tf.addN(learner.critics.map((c) => tf.mean(tf.square(tf.sub(q(c, tensors.obs, tensors.act), y)))))) as tf.Scalar, criticVars);
      const manualCritic = learner.criticGradients(batch, eps, subset, alpha);
      expect(manualCritic.loss.dataSync()[0]).toBeCloseTo(refCritic.value.dataSync()[0] as number, 4);
      criticVars.forEach((v, i) => expect(maxRelErr(manualCritic.grads[i]!.dataSync() as Float32Array, refCritic.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(2e-4));

      // Reference actor loss.
      const refActor = tf.variableGrads(() => {
        const { action, logProb } = learner.policy(tensors.obs, eps);
        const qs = learner.critics.map((c) => q(c, tensors.obs, action));
        const qv = config.actorQ === 'min' ? qs.reduce((acc, x) => tf.minimum(acc, x)) : tf.div(tf.addN(qs), qs.length);
        return tf.mean(tf.sub(tf.mul(alpha, logProb), qv)) as tf.Scalar;
      }, mlpVariables(learner.actor));
      const manualActor = learner.actorGradients(batch, eps, alpha);
      expect(manualActor.loss.dataSync()[0]).toBeCloseTo(refActor.value.dataSync()[0] as number, 4);
      mlpVariables(learner.actor).forEach((v, i) => expect(maxRelErr(manualActor.grads[i]!.dataSync() as Float32Array, refActor.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(2e-4));
      learner.dispose();
    });
  }
});

describe('typed-array Adam', () => {
  it('matches tf.train.adam step for step', () => {
    const rng = new Rng(5);
    const init = Float32Array.from({ length: 20 }, () => rng.normal());
    const a = tf.variable(tf.tensor2d(init, [4, 5]), true, 'adam-a');
    const b = tf.variable(tf.tensor2d(init, [4, 5]), true, 'adam-b');
    const ours = new Adam([a], { lr: 0.01, epsilon: 1e-7 });
    const theirs = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    for (let step = 0; step < 10; step++) {
      const g = tf.tensor2d(Array.from({ length: 20 }, () => rng.normal()), [4, 5]);
      ours.apply([g as tf.Tensor]);
      theirs.applyGradients([{ name: 'adam-b', tensor: g }]);
    }
    expect(maxRelErr(a.dataSync() as Float32Array, b.dataSync() as Float32Array)).toBeLessThan(1e-5);
  });
});

describe('critic target and ensemble subsets', () => {
  it('y = r on terminal rows and r + γ(min of the chosen target critics − α log π) otherwise', () => {
    const rng = new Rng(6);
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8], critics: 3, criticSubset: 2 }));
    const learner = new SacLearner(config, 3, 1, rng);
    const batch = allocBatch({ capacity: 1, obsDim: 3, actDim: 1, costDim: 0 }, 2);
    batch.nextObs.set([0.1, -0.2, 0.3, 0.5, 0.5, -0.5]);
    batch.reward.set([1.5, -2]);
    batch.discount.set([0, 0.9]);
    const eps = tf.tensor2d([0.3, -1.2], [2, 1]);
    const alpha = 0.2;
    const y = learner.criticTarget(batch, eps, [2, 0], alpha).dataSync();
    expect(y[0]).toBeCloseTo(1.5, 6); // terminal: no bootstrap at all
    // Row 1 by hand from the same pieces: the policy's a′, log π(a′|s′) and each target critic's Q.
    const { q, logp } = tf.tidy(() => {
      const next = tf.tensor2d([0.5, 0.5, -0.5], [1, 3]);
      const { action, logProb } = learner.policy(next, tf.tensor2d([-1.2], [1, 1]));
      const targets = (learner as unknown as { targets: (typeof learner.critics)[number][] }).targets;
      const qs = targets.map((t) => mlpForward(t, tf.concat([next, action], 1)).dataSync()[0] as number);
      return { q: tf.tensor1d(qs), logp: logProb };
    });
    const qs = Array.from(q.dataSync());
    expect(y[1]).toBeCloseTo(-2 + 0.9 * (Math.min(qs[2]!, qs[0]!) - alpha * (logp.dataSync()[0] as number)), 5);
    learner.dispose();
  });

  it('REDQ subsets are distinct indices, cover the ensemble uniformly, and reject bad sizes', () => {
    const rng = new Rng(7);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 5000; i++) {
      const s = sampleSubset(rng, 10, 2);
      expect(new Set(s).size).toBe(2);
      s.forEach((k) => counts[k]!++);
    }
    counts.forEach((c) => expect(Math.abs(c - 1000)).toBeLessThan(120));
    expect(sampleSubset(rng, 2, 2).sort()).toEqual([0, 1]);
    expect(() => sampleSubset(rng, 2, 3)).toThrow(/subset size in 1..2/);
  });
});

const installed = (pkg: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

describe('backend selection', () => {
  it.skipIf(installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu'))('names the package to install when a requested backend is missing', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(BackendUnavailableError);
    await expect(selectBackend('tensorflow-gpu')).rejects.toThrow(/npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
    // The failed attempt leaves the working backend active.
    expect(tf.getBackend()).toBe('wasm');
  });
});

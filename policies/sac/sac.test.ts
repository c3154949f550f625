import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { readBinaryFile } from '../binary-file.js';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { activeBackend, activeKernels, BackendUnavailableError, describeBackend, selectBackend } from '../backend.js';
import { loadBlasKernels } from '../kernels/blas.js';
import { JsKernels, type Kernels } from '../kernels/kernels.js';
import { TfjsKernels } from '../kernels/tfjs.js';
import { Adam, polyak } from '../nn/adam.js';
import { mlpForward, mlpFromParams, mlpVariables, type MlpSpec } from '../nn/mlp.js';
import { MlpJs } from '../nn/mlp-js.js';
import { createMlpParams, MlpPass, paramList } from '../nn/net.js';
import { setSimdEnabled } from '../nn/simd.js';
import { allocBatch, type Batch } from '../replay.js';
import { resolveSacConfig, SacConfigSchema } from './config.js';
import { SacLearner, sampleSubset } from './sac.js';
import { boundLogStd, squashedLogProbReference, squashedSample, squashedSampleInto } from './squashed-gaussian.js';
import { TfMirror } from './tf-reference.js';

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

function randomBatch(rng: Rng, obsDim: number, actDim: number, size: number, costDim = 0): Batch {
  const b = allocBatch({ capacity: 1, obsDim, actDim, costDim }, size);
  for (const arr of [b.obs, b.nextObs, b.reward, b.costs]) for (let i = 0; i < arr.length; i++) arr[i] = rng.normal();
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

  it('the typed-array sample equals the tfjs one (action, log σ, log π)', () => {
    const rng = new Rng(11);
    const [B, A] = [5, 3];
    const out = Float32Array.from({ length: B * 2 * A }, () => 2 * rng.normal());
    out[0] = 15; // a saturated action
    const eps = Float32Array.from({ length: B * A }, () => rng.normal());
    const into = { logStd: new Float32Array(B * A), u: new Float32Array(B * A), action: new Float32Array(B * A), logProb: new Float32Array(B) };
    squashedSampleInto(out, eps, B, A, -5, 2, into);
    const ref = tf.tidy(() => {
      const [mean, raw] = tf.split(tf.tensor2d(out, [B, 2 * A]), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      const logStd = boundLogStd(raw, -5, 2);
      const r = squashedSample(mean, logStd, tf.tensor2d(eps, [B, A]));
      return { a: r.action.dataSync() as Float32Array, lp: r.logProb.dataSync() as Float32Array, ls: logStd.dataSync() as Float32Array };
    });
    expect(maxRelErr(into.action, ref.a)).toBeLessThan(1e-6);
    expect(maxRelErr(into.logStd, ref.ls)).toBeLessThan(1e-6);
    expect(maxRelErr(into.logProb, ref.lp)).toBeLessThan(1e-5);
  });

  it('bounds log σ smoothly inside [min, max]', () => {
    const v = tf.tidy(() => boundLogStd(tf.tensor2d([[-100, 0, 100]]), -5, 2)).dataSync();
    expect(v[0]).toBeCloseTo(-5, 5);
    expect(v[1]).toBeCloseTo(-1.5, 5);
    expect(v[2]).toBeCloseTo(2, 5);
  });
});


/** The kernel sets every network test runs on: both production paths and the JS reference. */
const KERNELS: [string, () => Promise<Kernels>][] = [
  ['blas', () => loadBlasKernels({ threads: 2 })],
  ['tfjs wasm', async () => new TfjsKernels()],
  ['js reference', async () => new JsKernels()],
];

describe.each(KERNELS)('typed-array MLP on %s kernels', (_, makeKernels) => {
  describe.each<[string, Omit<MlpSpec, 'input' | 'output'>]>([
    ['relu', { hidden: [16, 16], layerNorm: false, activation: 'relu' }],
    ['tanh + LayerNorm', { hidden: [16, 12], layerNorm: true, activation: 'tanh' }],
    // 10 is not a multiple of 4: that layer takes the JS loops while the first runs on SIMD.
    ['tanh + LayerNorm, mixed widths', { hidden: [12, 10], layerNorm: true, activation: 'tanh' }],
    ['elu', { hidden: [8], layerNorm: false, activation: 'elu' }],
  ])('%s', (name, trunk) => {
    it.each([
      ['SIMD elementwise', true],
      ['JS elementwise', false],
    ])('forward, parameter and input gradients match tfjs autodiff (%s)', async (_label, simd) => {
      const kernels = await makeKernels();
      setSimdEnabled(simd);
      const rng = new Rng(2);
      const p = createMlpParams({ input: 5, output: 3, ...trunk }, rng);
      // Non-trivial LayerNorm parameters, so their gradients are tested too.
      p.lnGain.forEach((g) => g.forEach((_, i) => (g[i] = 1 + 0.3 * rng.normal())));
      p.lnBias.forEach((b) => b.forEach((_, i) => (b[i] = 0.2 * rng.normal())));
      const m = mlpFromParams(p, `pass-${name}-${kernels.name}-${simd ? "simd" : "js"}`);
      const xs = Float32Array.from({ length: 40 }, () => rng.normal());
      const ds = Float32Array.from({ length: 24 }, () => rng.normal());
      const x = tf.tensor2d(xs, [8, 5]);
      const dOut = tf.tensor2d(ds, [8, 3]);
      const vars = mlpVariables(m);
      const loss = (input: tf.Tensor2D): tf.Scalar => tf.sum(tf.mul(mlpForward(m, input), dOut));
      const auto = tf.variableGrads(() => loss(x), vars);
      const autoInput = tf.grad((input: tf.Tensor) => loss(input as tf.Tensor2D))(x);
      const pass = new MlpPass(p.spec, 8, kernels);
      // Which path each hidden layer takes: SIMD where it is on and the width is a multiple of 4 (not ELU).
      expect(pass.elementwise).toEqual(trunk.hidden.map((n) => (simd && n % 4 === 0 && trunk.activation !== 'elu' ? 'simd' : 'js')));
      expect(maxRelErr(pass.forward(p, xs), mlpForward(m, x).dataSync() as Float32Array)).toBeLessThan(1e-5);
      pass.backward(ds, { params: true, input: true });
      vars.forEach((v, i) => expect(maxRelErr(pass.grads[i]!, auto.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(1e-4));
      expect(maxRelErr(pass.dInput, autoInput.dataSync() as Float32Array)).toBeLessThan(1e-4);
      expect(() => pass.forward(p, xs.subarray(0, 39))).toThrow(/input has 39 values, needs batch 8 × 5/);
      expect(() => pass.backward(ds.subarray(0, 5), { params: true, input: false })).toThrow(/dOut has 5 values, needs batch 8 × 3/);
    });
  });
  afterEach(() => setSimdEnabled(true));
});

describe('typed-array inference MLP', () => {
  it('the actor-side MlpJs matches the tfjs forward pass', () => {
    const rng = new Rng(3);
    for (const trunk of [{ hidden: [16, 16], layerNorm: false, activation: 'relu' }, { hidden: [16, 12], layerNorm: true, activation: 'tanh' }, { hidden: [8], layerNorm: false, activation: 'elu' }] as const) {
      const p = createMlpParams({ input: 5, output: 3, ...trunk }, rng);
      const m = mlpFromParams(p, `js-${trunk.activation}`);
      const js = new MlpJs(p);
      for (let t = 0; t < 5; t++) {
        const x = Float32Array.from({ length: 5 }, () => rng.normal());
        const ref = tf.tidy(() => mlpForward(m, tf.tensor2d(x, [1, 5])).dataSync() as Float32Array);
        expect(maxRelErr(js.forward(x), ref)).toBeLessThan(1e-5);
      }
    }
  });
});

describe.each(KERNELS.slice(0, 2))('SAC learner gradients on %s kernels', (_, makeKernels) => {
  for (const preset of ['sac', 'rlpd'] as const) {
    it(`${preset}: critic and actor gradients match autodiff of the reference losses`, async () => {
      const rng = new Rng(4);
      const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', preset, hidden: [32, 32], critics: 3, criticSubset: 2 }));
      const learner = new SacLearner(config, 5, 2, rng, [], 0, await makeKernels());
      const ref = new TfMirror(learner);
      const batch = randomBatch(rng, 5, 2, 16);
      const epsArr = Float32Array.from({ length: 32 }, () => rng.normal());
      const eps = tf.tensor2d(epsArr, [16, 2]);
      const alpha = 0.3;
      const subset = [2, 0];
      const tensors = {
        obs: tf.tensor2d(batch.obs, [16, 5]),
        act: tf.tensor2d(batch.action, [16, 2]),
        reward: tf.tensor1d(batch.reward),
        discount: tf.tensor1d(batch.discount),
        next: tf.tensor2d(batch.nextObs, [16, 5]),
      };

      // Reference critic loss, written the obvious way and differentiated by tfjs.
      const y = tf.tidy(() => {
        const { action: a2, logProb } = ref.policy(tensors.next, eps);
        let m = subset.map((i) => ref.q(ref.targets[i]!, tensors.next, a2)).reduce((acc, x) => tf.minimum(acc, x));
        if (config.backupEntropy) m = tf.sub(m, tf.mul(alpha, logProb));
        return tf.add(tensors.reward, tf.mul(tensors.discount, m));
      });
      expect(maxRelErr(learner.criticTarget(batch, epsArr, subset, alpha), y.dataSync() as Float32Array)).toBeLessThan(1e-5);
      const criticVars = ref.critics.flatMap(mlpVariables);
      const refCritic = tf.variableGrads(() => tf.mul(0.5, tf.addN(ref.critics.map((c) => tf.mean(tf.square(tf.sub(ref.q(c, tensors.obs, tensors.act), y)))))) as tf.Scalar, criticVars);
      const manualCritic = learner.criticGradients(batch, epsArr, subset, alpha);
      expect(manualCritic.loss).toBeCloseTo(refCritic.value.dataSync()[0] as number, 4);
      criticVars.forEach((v, i) => expect(maxRelErr(manualCritic.grads[i]!, refCritic.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(2e-4));

      // Reference actor loss.
      const refActor = tf.variableGrads(() => {
        const { action, logProb } = ref.policy(tensors.obs, eps);
        const qs = ref.critics.map((c) => ref.q(c, tensors.obs, action));
        const qv = config.actorQ === 'min' ? qs.reduce((acc, x) => tf.minimum(acc, x)) : tf.div(tf.addN(qs), qs.length);
        return tf.mean(tf.sub(tf.mul(alpha, logProb), qv)) as tf.Scalar;
      }, mlpVariables(ref.actor));
      const manualActor = learner.actorGradients(batch, epsArr, alpha);
      expect(manualActor.loss).toBeCloseTo(refActor.value.dataSync()[0] as number, 4);
      mlpVariables(ref.actor).forEach((v, i) => expect(maxRelErr(manualActor.grads[i]!, refActor.grads[v.name]!.dataSync() as Float32Array)).toBeLessThan(2e-4));
      ref.dispose();
      learner.dispose();
    });
  }
});

describe('the same update on every kernel set', () => {
  for (const preset of ['sac', 'rlpd'] as const) {
    it(`${preset} + cost critics: one update from the same state agrees in every parameter on blas and tfjs-wasm (relative 1e-4)`, async () => {
      const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', preset, hidden: [64, 64], critics: preset === 'rlpd' ? 4 : 2, criticActorRatio: 2, safe: { constraints: { a: { limit: 1 } } } }));
      const make = async (kernels: Kernels): Promise<SacLearner> => {
        const l = new SacLearner(config, 7, 3, new Rng(12), [1], 2, kernels);
        l.lambdas[0] = 0.6;
        return l;
      };
      const rng = new Rng(13);
      const batches = [randomBatch(rng, 7, 3, 64, 2), randomBatch(rng, 7, 3, 64, 2)];
      const [blas, wasm] = [await make(await loadBlasKernels({ threads: 2 })), await make(new TfjsKernels())];
      const mb = blas.update(batches);
      const mw = wasm.update(batches);
      const a = blas.exportState();
      const b = wasm.exportState();
      expect(a.sections.length).toBe(b.sections.length);
      // Before the update the networks were equal; after it every parameter (and Adam moment) agrees.
      a.sections.forEach((s, i) => expect(maxRelErr(s, b.sections[i]!)).toBeLessThan(1e-4));
      expect(mb.criticLoss).toBeCloseTo(mw.criticLoss, 4);
      expect(mb.costCriticLoss).toBeCloseTo(mw.costCriticLoss!, 4);
      expect(mb.alpha).toBeCloseTo(mw.alpha, 6);
      // The update moved the parameters (this is not a no-op comparison).
      const fresh = (await make(new JsKernels())).exportState();
      expect(maxRelErr(a.sections[0]!, fresh.sections[0]!)).toBeGreaterThan(1e-5);
    });
  }
});

describe('checkpoint compatibility', () => {
  it('a state written by the tfjs learner (before issue 20) loads: same actions, α, layout; training goes on', () => {
    const file = readBinaryFile(fileURLToPath(new URL('./fixtures/sac-tfjs-b1e16a7.state', import.meta.url)), 'RRLSACFX');
    const h = file.header as { probe: number[]; meanAction: number[]; alpha: number; learner: Record<string, unknown> };
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', preset: 'rlpd', hidden: [8, 8], critics: 3, safe: { constraints: { a: { limit: 1 } } } }));
    const learner = new SacLearner(config, 3, 2, new Rng(99), [0], 1, new JsKernels());
    learner.importState(h.learner, file.sections);
    const actions = learner.meanAction(Float32Array.from(h.probe), 2);
    h.meanAction.forEach((a, i) => expect(Math.abs(actions[i]! - a)).toBeLessThan(1e-6));
    expect(learner.alpha).toBeCloseTo(h.alpha, 7);
    expect(learner.updates).toBe(3);
    const again = learner.exportState();
    expect((again.header['variables'] as { shape: number[] }[]).map((v) => v.shape)).toEqual((h.learner['variables'] as { shape: number[] }[]).map((v) => v.shape));
    expect(again.sections.map((x) => x.length)).toEqual(file.sections.map((x) => x.byteLength / 4));
    const batch = randomBatch(new Rng(1), 3, 2, 16, 1);
    expect(Number.isFinite(learner.update([batch]).criticLoss)).toBe(true);
    // A different network is refused before anything is assigned.
    const other = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8, 8] })), 3, 2, new Rng(0), [], 0, new JsKernels());
    expect(() => other.importState(h.learner, file.sections)).toThrow(/a different network config/);
  });
});

describe('typed-array Adam and Polyak', () => {
  afterEach(() => setSimdEnabled(true));
  // 22 values: the SIMD path does the first 20, the JS loop the last 2.
  it.each([
    ['SIMD', true],
    ['JS', false],
  ])('Adam matches tf.train.adam step for step (%s)', (label, simd) => {
    setSimdEnabled(simd);
    const rng = new Rng(5);
    const init = Float32Array.from({ length: 22 }, () => rng.normal());
    const a = Float32Array.from(init);
    const b = tf.variable(tf.tensor2d(init, [2, 11]), true, `adam-b-${label}`);
    const ours = new Adam([a], { lr: 0.01, epsilon: 1e-7 });
    const theirs = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    for (let step = 0; step < 10; step++) {
      const g = Float32Array.from({ length: 22 }, () => rng.normal());
      ours.apply([g]);
      theirs.applyGradients([{ name: `adam-b-${label}`, tensor: tf.tensor2d(g, [2, 11]) }]);
    }
    expect(maxRelErr(a, b.dataSync() as Float32Array)).toBeLessThan(1e-5);
    expect(() => ours.apply([new Float32Array(3)])).toThrow(/gradient 0 has 3 values, its parameter 22/);
    // A corrupted moment array is refused before anything moves (review: the step used to be half-done).
    const two = new Adam([Float32Array.from(init), Float32Array.from(init)], { lr: 0.01 });
    (two.v as Float32Array[])[1] = new Float32Array(3);
    const before = Float32Array.from(two.params[0] as Float32Array);
    expect(() => two.apply([new Float32Array(22).fill(1), new Float32Array(22).fill(1)])).toThrow(/moment arrays of parameter 1 have 22 and 3 values/);
    expect(two.params[0]).toEqual(before);
    expect(two.step).toBe(0);
  });

  it.each([
    ['SIMD', true],
    ['JS', false],
  ])('Polyak averaging moves every value τ of the way (%s)', (_label, simd) => {
    setSimdEnabled(simd);
    const t = Float32Array.from({ length: 7 }, (_v, i) => i);
    const s = new Float32Array(7).fill(10);
    polyak([t], [s], 0.25);
    t.forEach((v, i) => expect(v).toBeCloseTo(i + 0.25 * (10 - i), 6));
    // Mismatched lists are refused before any array moves (review).
    const first = new Float32Array(8).fill(1);
    expect(() => polyak([first, new Float32Array(8)], [new Float32Array(8), new Float32Array(3)], 0.5)).toThrow(/polyak: the target's 2 arrays \(8, 8\) and the source's 2 \(8, 3\) differ/);
    expect(Array.from(first)).toEqual(new Array(8).fill(1));
  });
});

describe('critic target and ensemble subsets', () => {
  it('y = r on terminal rows and r + γ(min of the chosen target critics − α log π) otherwise', () => {
    const rng = new Rng(6);
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8], critics: 3, criticSubset: 2 }));
    const learner = new SacLearner(config, 3, 1, rng, [], 0, new JsKernels());
    const batch = allocBatch({ capacity: 1, obsDim: 3, actDim: 1, costDim: 0 }, 2);
    batch.nextObs.set([0.1, -0.2, 0.3, 0.5, 0.5, -0.5]);
    batch.reward.set([1.5, -2]);
    batch.discount.set([0, 0.9]);
    const alpha = 0.2;
    const y = Float32Array.from(learner.criticTarget(batch, Float32Array.of(0.3, -1.2), [2, 0], alpha));
    expect(y[0]).toBeCloseTo(1.5, 6); // terminal: no bootstrap at all
    // Row 1 by hand from the same pieces: the policy's a′, log π(a′|s′) and each target critic's Q.
    const ref = new TfMirror(learner);
    const { qs, logp } = tf.tidy(() => {
      const next = tf.tensor2d([0.5, 0.5, -0.5], [1, 3]);
      const { action, logProb } = ref.policy(next, tf.tensor2d([-1.2], [1, 1]));
      return { qs: ref.targets.map((t) => ref.q(t, next, action).dataSync()[0] as number), logp: logProb.dataSync()[0] as number };
    });
    expect(y[1]).toBeCloseTo(-2 + 0.9 * (Math.min(qs[2]!, qs[0]!) - alpha * logp), 5);
    ref.dispose();
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

  it('the target critics start equal to the critics and parameters are laid out as checkpoints store them', () => {
    const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', preset: 'rlpd', hidden: [8, 8], critics: 2 })), 3, 2, new Rng(9), [], 0, new JsKernels());
    learner.critics.forEach((c, i) => paramList(c).forEach((p, k) => expect(Array.from(p)).toEqual(Array.from(paramList(learner.targets[i]!)[k]!))));
    const state = learner.exportState();
    const names = (state.header['variables'] as { name: string; shape: number[] }[]).map((v) => v.name.replace(/^sac\d+\//, ''));
    expect(names.slice(0, 8)).toEqual(['actor/w0', 'actor/w1', 'actor/w2', 'actor/b0', 'actor/b1', 'actor/b2', 'actor/ln0/g', 'actor/ln1/g']);
    expect(names).toContain('log_alpha');
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

  it('blas without the library fails with the command that installs it; with it, the networks run on BLAS and tfjs stays beside it', async () => {
    await expect(selectBackend('blas', { blasFile: 'libopenblas-missing.so.0' })).rejects.toThrow(/Compute backend "blas" is not available .*Install it with: apt-get install libopenblas0-pthread/);
    expect(activeBackend()?.name).toBe('wasm');
    // auto without the library falls back to wasm and says how to get the fast path.
    const fallback = await selectBackend('auto', { blasFile: 'libopenblas-missing.so.0' });
    expect(describeBackend(fallback)).toBe('compute backend: wasm (@tensorflow/tfjs-backend-wasm) — for native speed: apt-get install libopenblas0-pthread');
    const info = await selectBackend('blas', { threads: 2 });
    // BLIS's pthread build first (faster here on one and two threads), OpenBLAS after it.
    expect(info).toMatchObject({ name: 'blas', tfjs: 'wasm', blas: { library: 'blis', threads: 2 } });
    expect(describeBackend(info)).toMatch(/^compute backend: blas \(BLIS .*, 2 threads; tfjs wasm beside it\)$/);
    expect(activeKernels().name).toBe('blas (BLIS, 2 threads)');
    expect(new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8] })), 3, 1, new Rng(0)).kernels.name).toBe('blas (BLIS, 2 threads)');
    // auto prefers blas over the tfjs CPU backends (no GPU here).
    expect((await selectBackend('auto')).name).toBe('blas');
    await selectBackend('wasm');
    expect(activeKernels().name).toBe('tfjs (wasm)');
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { selectBackend } from '../backend.js';
import { ObservationNormalizer, RewardScaler } from './normalizers.js';
import { RunningMeanStd } from '../../control/running-stats.js';
import { ObGD } from './obgd.js';
import { softplus, StreamAC } from './stream-ac.js';
import { StreamNet } from './stream-net.js';
import { linearEpsilon, StreamQ } from './stream-q.js';
import { StreamTD } from './stream-td.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('ObGD', () => {
  it('takes the plain step α·δ·e when the overshooting bound is inactive', () => {
    const p = new Float64Array(2);
    const opt = new ObGD(p, 1, 0.99, 0.8, 2);
    opt.accumulate(Float64Array.of(0.1, -0.2));
    // z = 0.3, δ̄ = max(0.5, 1) = 1, M = 1·2·1·0.3 = 0.6 ≤ 1 → α′ = 1.
    expect(opt.step(0.5)).toBe(1);
    expect(p[0]).toBeCloseTo(0.05, 12);
    expect(p[1]).toBeCloseTo(-0.1, 12);
  });

  it('shrinks the step to α/M when the bound is active, and decays traces by γλ', () => {
    const p = new Float64Array(2);
    const opt = new ObGD(p, 1, 0.99, 0.8, 2);
    opt.accumulate(Float64Array.of(2, -1));
    // z = 3, δ̄ = 4, M = 1·2·4·3 = 24 → α′ = 1/24; θ = (1/24)·4·[2, −1].
    expect(opt.step(4)).toBeCloseTo(1 / 24, 12);
    expect(p[0]).toBeCloseTo(1 / 3, 12);
    expect(p[1]).toBeCloseTo(-1 / 6, 12);
    opt.accumulate(Float64Array.of(1, 1));
    expect(opt.traces[0]).toBeCloseTo(0.792 * 2 + 1, 12);
    expect(opt.traces[1]).toBeCloseTo(0.792 * -1 + 1, 12);
    opt.resetTraces();
    expect(Array.from(opt.traces)).toEqual([0, 0]);
  });
});

describe('StreamNet', () => {
  it('sparse init zeroes exactly ceil(0.9·fan_in) inputs of every unit and all biases', () => {
    const net = new StreamNet({ input: 7, hidden: [16, 16], output: 3 });
    net.sparseInit(new Rng(1));
    const layers = [[7, 16], [16, 16], [16, 3]] as const;
    let offset = 0;
    for (const [fanIn, fanOut] of layers) {
      for (let j = 0; j < fanOut; j++) {
        let zeros = 0;
        for (let i = 0; i < fanIn; i++) if (net.params[offset + i * fanOut + j] === 0) zeros++;
        expect(zeros).toBe(Math.ceil(0.9 * fanIn));
      }
      for (let j = 0; j < fanOut; j++) expect(net.params[offset + fanIn * fanOut + j]).toBe(0);
      offset += fanIn * fanOut + fanOut;
    }
    expect(offset).toBe(net.size);
  });

  it('forward and gradients match tfjs autodiff (LayerNorm without parameters, LeakyReLU)', () => {
    const rng = new Rng(2);
    const net = new StreamNet({ input: 5, hidden: [12, 8], output: 3 });
    for (let i = 0; i < net.size; i++) net.params[i] = rng.normal() * 0.4;
    const x = Array.from({ length: 5 }, () => rng.normal());
    const dOut = [0.3, -1.2, 0.7];
    const out = Array.from(net.forward(x));
    const grad = new Float64Array(net.size);
    net.backward(dOut, grad);
    // Reference in tfjs.
    const sizes = [5, 12, 8, 3];
    let off = 0;
    const vars: tf.Variable[] = [];
    for (let l = 0; l < 3; l++) {
      const [i, o] = [sizes[l]!, sizes[l + 1]!];
      vars.push(tf.variable(tf.tensor2d(Float32Array.from(net.params.slice(off, off + i * o)), [i, o]), true, `stream-w${l}`));
      vars.push(tf.variable(tf.tensor1d(Float32Array.from(net.params.slice(off + i * o, off + i * o + o))), true, `stream-b${l}`));
      off += i * o + o;
    }
    const f = (): tf.Tensor => {
      let h: tf.Tensor = tf.tensor2d(x, [1, 5]);
      for (let l = 0; l < 3; l++) {
        h = tf.add(tf.matMul(h as tf.Tensor2D, vars[2 * l]! as tf.Tensor2D), vars[2 * l + 1]!);
        if (l < 2) {
          const { mean, variance } = tf.moments(h, 1, true);
          h = tf.leakyRelu(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), 0.01);
        }
      }
      return h;
    };
    const ref = f().dataSync();
    out.forEach((v, i) => expect(v).toBeCloseTo(ref[i] as number, 4));
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), tf.tensor2d(dOut, [1, 3]))) as tf.Scalar, vars);
    off = 0;
    for (const v of vars) {
      const g = grads[v.name]!.dataSync();
      g.forEach((gv, k) => expect(grad[off + k]).toBeCloseTo(gv, 3));
      off += g.length;
    }
  });
});

describe('normalisers', () => {
  it('the running statistics match a two-pass mean and sample variance', () => {
    const rng = new Rng(3);
    const xs = Array.from({ length: 500 }, () => [rng.normal(5, 2), rng.uniform(-1, 3)]);
    const s = new RunningMeanStd(2);
    xs.forEach((x) => s.update(x));
    for (let k = 0; k < 2; k++) {
      const col = xs.map((x) => x[k]!);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / (col.length - 1);
      expect(s.mean[k]).toBeCloseTo(mean, 10);
      expect(s.sampleVariance(k)).toBeCloseTo(variance, 8);
    }
  });

  it('normalises with the sample included and scales rewards by the return std', () => {
    const n = new ObservationNormalizer(1);
    expect(n.normalize([4])[0]).toBeCloseTo(0, 6); // first sample: mean 4, variance 1
    expect(n.normalize([6])[0]).toBeCloseTo(1 / Math.sqrt(2), 6); // mean 5, sample var 2
    const scaler = new RewardScaler(0.9);
    scaler.scale(1, false);
    const second = scaler.scale(1, false); // returns 1 and 1.9: sample var 0.405
    expect(second).toBeCloseTo(1 / Math.sqrt(0.405 + 1e-8), 6);
  });
});

/** A 1-D point to steer to 0: obs [x], x ← clip(x + 0.1·a, ±2), reward −|x|, 20 steps. */
class Line {
  x = 0;
  t = 0;
  reset(rng: Rng): number[] {
    this.x = rng.uniform(-1, 1);
    this.t = 0;
    return [this.x];
  }
  step(a: number): { obs: number[]; reward: number; done: boolean } {
    this.x = Math.max(-2, Math.min(2, this.x + 0.1 * Math.max(-1, Math.min(1, a))));
    this.t++;
    return { obs: [this.x], reward: -Math.abs(this.x), done: this.t >= 20 };
  }
}

describe('Stream AC(λ)', () => {
  it('its policy gradient matches finite differences of log π + η·sign(δ)·H', () => {
    const rng = new Rng(4);
    const ac = new StreamAC({ obsDim: 3, actDim: 2, hidden: [8, 8] }, rng);
    for (let i = 0; i < ac.actor.size; i++) ac.actor.params[i] = rng.normal() * 0.3;
    const s = [0.2, -0.5, 1];
    const a = [0.3, -0.7];
    const objective = (): number => {
      const out = ac.actor.forward(s);
      const entropy = [0, 1].reduce((acc, i) => acc + 0.5 * Math.log(2 * Math.PI * Math.E * softplus(out[2 + i]!) ** 2), 0);
      return ac.logProb(s, a) + 0.01 * -1 * entropy;
    };
    ac.policyGradient(s, a, -1);
    const analytic = Float64Array.from((ac as unknown as { gradPi: Float64Array }).gradPi);
    for (const k of [0, 5, 17, ac.actor.size - 1, ac.actor.size - 3]) {
      const h = 1e-6;
      const keep = ac.actor.params[k]!;
      ac.actor.params[k] = keep + h;
      const up = objective();
      ac.actor.params[k] = keep - h;
      const down = objective();
      ac.actor.params[k] = keep;
      expect(analytic[k]).toBeCloseTo((up - down) / (2 * h), 5);
    }
  });

  it('clears both traces at an episode end', () => {
    const ac = new StreamAC({ obsDim: 1, actDim: 1, hidden: [8, 8] }, new Rng(5));
    ac.update([0.5], [0.1], 1, [0.4], false, false);
    expect(ac.policyOpt.traces.some((v) => v !== 0)).toBe(true);
    ac.update([0.4], [0.1], 1, [0.3], false, true);
    expect(ac.policyOpt.traces.every((v) => v === 0)).toBe(true);
    expect(ac.valueOpt.traces.every((v) => v === 0)).toBe(true);
  });

  it('learns to steer a point to the origin: clearly better than its initial policy', () => {
    const rng = new Rng(6);
    const ac = new StreamAC({ obsDim: 1, actDim: 1, hidden: [32, 32], gamma: 0.95 }, rng);
    const env = new Line();
    const evaluate = (): number => {
      const evalRng = new Rng(99);
      let total = 0;
      for (let ep = 0; ep < 20; ep++) {
        let obs = env.reset(evalRng);
        for (;;) {
          const r = env.step(ac.act(obs, evalRng, true)[0]!);
          total += r.reward;
          obs = r.obs;
          if (r.done) break;
        }
      }
      return total / 20;
    };
    const before = evaluate();
    for (let ep = 0; ep < 600; ep++) {
      let obs = env.reset(rng);
      for (;;) {
        const a = ac.act(obs, rng)[0]!;
        const r = env.step(a);
        ac.update(obs, [a], r.reward, r.obs, false, r.done);
        obs = r.obs;
        if (r.done) break;
      }
    }
    const after = evaluate();
    expect(after).toBeGreaterThan(before + 2);
    expect(after).toBeGreaterThan(-6); // a do-nothing policy scores about −10
  });
});

describe('Stream TD(λ)', () => {
  it('reduces the value error of the 5-state random walk (true values 1/6 … 5/6)', () => {
    const rng = new Rng(7);
    const td = new StreamTD({ obsDim: 5, hidden: [16, 16], gamma: 1, lambda: 0.8 }, rng);
    const onehot = (i: number): number[] => Array.from({ length: 5 }, (_, k) => (k === i ? 1 : 0));
    const rmse = (): number => Math.sqrt([0, 1, 2, 3, 4].reduce((a, i) => a + (td.value(onehot(i)) - (i + 1) / 6) ** 2, 0) / 5);
    const before = rmse();
    for (let ep = 0; ep < 300; ep++) {
      let s = 2;
      for (;;) {
        const next = s + (rng.random() < 0.5 ? -1 : 1);
        const end = next < 0 || next > 4;
        td.update(onehot(s), next > 4 ? 1 : 0, end ? onehot(s) : onehot(next), end, end);
        if (end) break;
        s = next;
      }
    }
    expect(rmse()).toBeLessThan(before / 2);
    expect(rmse()).toBeLessThan(0.12);
  });
});

describe('Stream Q(λ)', () => {
  it('ε decays linearly to its floor over the exploration fraction', () => {
    expect(linearEpsilon(0, 1000)).toBe(1);
    expect(linearEpsilon(25, 1000)).toBeCloseTo(0.505, 6);
    expect(linearEpsilon(50, 1000)).toBe(0.01);
    expect(linearEpsilon(900, 1000)).toBe(0.01);
  });

  it('cuts the traces before the update of a non-greedy step (Watkins, Sutton & Barto timing)', () => {
    const q = new StreamQ({ obsDim: 2, actions: 2, hidden: [8, 8] }, new Rng(8));
    q.update([1, 0], 0, 0.5, [0, 1], false, false, true);
    expect(q.opt.traces.some((v) => v !== 0)).toBe(true);
    // ∇Q(s, a) of the coming non-greedy step, from the parameters before it.
    const probe = new StreamNet(q.net.spec);
    probe.params.set(q.net.params);
    probe.forward([0, 1]);
    const grad = new Float64Array(probe.size);
    probe.backward([0, 1], grad);
    q.update([0, 1], 1, 0.5, [1, 0], false, false, false);
    // The earlier trace was cut, so the trace is exactly this step's gradient (not γλ·old + grad).
    expect(Array.from(q.opt.traces)).toEqual(Array.from(grad));
  });

  it('learns a two-action corridor: clearly better than random', () => {
    // States 0..5 on a line, start at 2; action 1 moves right, 0 left; +1 at 5, −0.01 per step, 30 steps.
    const rng = new Rng(9);
    const q = new StreamQ({ obsDim: 6, actions: 2, hidden: [16, 16], gamma: 0.95 }, rng);
    const onehot = (i: number): number[] => Array.from({ length: 6 }, (_, k) => (k === i ? 1 : 0));
    const episode = (epsilon: number, learn: boolean): number => {
      let s = 2;
      let ret = 0;
      for (let t = 0; t < 30; t++) {
        const { action, greedy } = q.act(onehot(s), epsilon, rng);
        const next = Math.max(0, Math.min(5, s + (action === 1 ? 1 : -1)));
        const reward = next === 5 ? 1 : -0.01;
        const terminated = next === 5;
        ret += reward;
        if (learn) q.update(onehot(s), action, reward, onehot(next), terminated, terminated || t === 29, greedy);
        s = next;
        if (terminated) break;
      }
      return ret;
    };
    const random = Array.from({ length: 50 }, () => episode(1, false)).reduce((a, b) => a + b, 0) / 50;
    for (let ep = 0; ep < 200; ep++) episode(linearEpsilon(ep, 200, 0.5), true);
    const greedy = episode(0, false);
    expect(greedy).toBeCloseTo(1 - 0.02, 6); // the shortest path: two steps of −0.01, then +1
    expect(greedy).toBeGreaterThan(random + 0.3);
  });
});

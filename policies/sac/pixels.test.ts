import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { selectBackend } from '../backend.js';
import { encoderParamList } from '../encoder/conv-encoder.js';
import { loadBlasKernels } from '../kernels/blas.js';
import { JsKernels, type Kernels } from '../kernels/kernels.js';
import { TfjsKernels } from '../kernels/tfjs.js';
import { allocBatch, type Batch, type CameraShape } from '../replay.js';
import { GaussianActor } from './actor.js';
import { resolveSacConfig, SacConfigSchema, type SacConfigInput } from './config.js';
import { SacLearner } from './sac.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

const CAMERAS: CameraShape[] = [
  { name: 'front', height: 12, width: 10, channels: 3 },
  { name: 'wrist', height: 9, width: 9, channels: 1 },
];

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / scale);
  return worst;
}

function pixelBatch(rng: Rng, obsDim: number, actDim: number, size: number): Batch {
  const b = allocBatch({ capacity: 1, obsDim, actDim, costDim: 0, cameras: CAMERAS }, size);
  for (const arr of [b.obs, b.nextObs, b.reward]) for (let i = 0; i < arr.length; i++) arr[i] = rng.normal();
  for (let i = 0; i < b.action.length; i++) b.action[i] = rng.uniform(-0.99, 0.99);
  for (let i = 0; i < size; i++) b.discount[i] = rng.random() < 0.2 ? 0 : 0.99;
  for (const f of [...b.frames!, ...b.nextFrames!]) for (let i = 0; i < f.length; i++) f[i] = rng.int(256);
  return b;
}

const encoderConfig = (preset: 'sac' | 'rlpd'): SacConfigInput => ({ kind: 'sac', preset, hidden: [32, 32], critics: preset === 'rlpd' ? 4 : 2, criticActorRatio: 2, encoder: { kind: 'conv', filters: 4, strides: [2, 1], features: 6, pad: 2 } });

describe('SAC with a conv image encoder', () => {
  for (const preset of ['sac', 'rlpd'] as const) {
    it(`${preset}: one update from the same state agrees in every parameter (encoders included) on blas and tfjs-wasm (relative 1e-4)`, async () => {
      const config = resolveSacConfig(SacConfigSchema.parse(encoderConfig(preset)));
      const make = (kernels: Kernels): SacLearner => new SacLearner(config, 5, 2, new Rng(21), [], 0, kernels, CAMERAS);
      const rng = new Rng(22);
      const batches = [pixelBatch(rng, 5, 2, 32), pixelBatch(rng, 5, 2, 32)];
      const [blas, wasm] = [make(await loadBlasKernels({ threads: 2 })), make(new TfjsKernels())];
      const mb = blas.update(batches);
      const mw = wasm.update(batches);
      const a = blas.exportState();
      const b = wasm.exportState();
      expect(a.sections.length).toBe(b.sections.length);
      const names = (a.header['variables'] as { name: string }[]).map((v) => v.name);
      expect(names.filter((n) => /encoder_front\/conv0\/w$/.test(n))).toHaveLength(2); // online and target
      a.sections.forEach((s, i) => expect(maxRelErr(s, b.sections[i]!)).toBeLessThan(1e-4));
      expect(mb.criticLoss).toBeCloseTo(mw.criticLoss, 4);
      // The critic loss trained the encoders: they moved from their initial values.
      const fresh = make(new JsKernels());
      const moved = encoderParamList(blas.pixels!.online[0]!).map((p, i) => maxRelErr(p, encoderParamList(fresh.pixels!.online[0]!)[i]!));
      expect(Math.max(...moved)).toBeGreaterThan(1e-5);
    });
  }

  it('the actor step leaves the encoders alone (the actor sees detached features)', async () => {
    const config = resolveSacConfig(SacConfigSchema.parse(encoderConfig('sac')));
    const learner = new SacLearner(config, 5, 2, new Rng(23), [], 0, new JsKernels(), CAMERAS);
    const before = learner.pixels!.online.flatMap(encoderParamList).map((p) => Float32Array.from(p));
    const actorBefore = Float32Array.from(learner.actor.w[0]!);
    const { grads } = learner.actorGradients(pixelBatch(new Rng(24), 5, 2, 16), new Float32Array(32), 0.1);
    expect(grads).toHaveLength(learner.actor.w.length * 2);
    learner.pixels!.online.flatMap(encoderParamList).forEach((p, i) => expect(p).toEqual(before[i]));
    expect(learner.actor.w[0]).toEqual(actorBefore);
  });

  it('a checkpoint holds the encoders: a restored learner acts and updates exactly as the original', () => {
    const config = resolveSacConfig(SacConfigSchema.parse(encoderConfig('rlpd')));
    const a = new SacLearner(config, 5, 2, new Rng(31), [], 0, new JsKernels(), CAMERAS);
    const rng = new Rng(32);
    a.update([pixelBatch(rng, 5, 2, 8)]);
    const state = a.exportState();
    const b = new SacLearner(config, 5, 2, new Rng(99), [], 0, new JsKernels(), CAMERAS);
    b.importState(state.header, state.sections.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength)));
    const obs = { state: Float32Array.of(0.1, 0.2, 0.3, 0.4, 0.5), front: new Uint8Array(360).fill(90), wrist: new Uint8Array(81).fill(30) };
    expect(new GaussianActor(b.snapshot(), new Rng(1)).act(obs, true)).toEqual(new GaussianActor(a.snapshot(), new Rng(1)).act(obs, true));
    const next = pixelBatch(rng, 5, 2, 8);
    expect(b.update([next])).toEqual(a.update([next]));
    // A state learner's checkpoint does not load into a pixel learner (and says why).
    const plain = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ ...encoderConfig('rlpd'), encoder: undefined })), 5, 2, new Rng(0), [], 0, new JsKernels());
    const p = plain.exportState();
    expect(() => b.importState(p.header, p.sections.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength)))).toThrow(/a different network config/);
  });

  it('refuses camera frames without an encoder, and a batch without frames', () => {
    const plain = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8] }));
    expect(() => new SacLearner(plain, 5, 2, new Rng(0), [], 0, new JsKernels(), CAMERAS)).toThrow(/needs an image encoder \(algo.encoder: \{kind: conv\}\)/);
    const learner = new SacLearner(resolveSacConfig(SacConfigSchema.parse(encoderConfig('sac'))), 5, 2, new Rng(0), [], 0, new JsKernels(), CAMERAS);
    const noFrames = allocBatch({ capacity: 1, obsDim: 5, actDim: 2, costDim: 0 }, 4);
    expect(() => learner.update([noFrames])).toThrow(/expects 2 camera frame\(s\) per batch row \(front, wrist\), the batch has 0/);
  });
});

/**
 * A one-step pixel task: a 16×16 grey image shows a 2×2 dot at a random place; the reward is
 * −|a − x| where x ∈ [−1, 1] is the dot's column. The state vector is a constant, so a policy
 * that does not read the image can do no better than −E|x| = −0.5 (a random one: −2/3).
 */
class DotTask {
  static readonly SIZE = 16;
  x = 0;
  readonly frame = new Uint8Array(DotTask.SIZE * DotTask.SIZE);
  readonly state = Float32Array.of(1);
  constructor(private readonly rng: Rng) {}

  reset(): { state: Float32Array; dot: Uint8Array } {
    const S = DotTask.SIZE;
    const col = this.rng.int(S - 1);
    const row = this.rng.int(S - 1);
    this.x = (col + 0.5) / ((S - 2) / 2) - 1;
    this.frame.fill(0);
    for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) this.frame[(row + dy) * S + col + dx] = 255;
    return { state: this.state, dot: this.frame };
  }

  reward(a: number): number {
    return -Math.abs(a - this.x);
  }
}

describe('pretrained and frozen encoders (encoder.init, encoder.frozen)', () => {
  const sections = (l: SacLearner): Uint8Array[] => l.exportState().sections.map((f) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength));

  it('loads another learner\'s encoders by camera (online and target), and keeps them fixed when frozen while the critics learn', () => {
    const trainedCfg = resolveSacConfig(SacConfigSchema.parse(encoderConfig('sac')));
    const rng = new Rng(5);
    const batches = [pixelBatch(rng, 5, 2, 16), pixelBatch(rng, 5, 2, 16)];
    const source = new SacLearner(trainedCfg, 5, 2, new Rng(1), [], 0, new JsKernels(), CAMERAS);
    for (let k = 0; k < 3; k++) source.update(batches);
    const frozenCfg = resolveSacConfig(SacConfigSchema.parse({ ...encoderConfig('sac'), encoder: { kind: 'conv', filters: 4, strides: [2, 1], features: 6, pad: 2, frozen: true } }));
    const learner = new SacLearner(frozenCfg, 5, 2, new Rng(2), [], 0, new JsKernels(), CAMERAS);
    learner.loadEncoders(source.exportState().header, sections(source), 'source');
    CAMERAS.forEach((_, c) => {
      const want = encoderParamList(source.pixels!.online[c]!);
      encoderParamList(learner.pixels!.online[c]!).forEach((p, i) => expect(Array.from(p)).toEqual(Array.from(want[i]!)));
      encoderParamList(learner.pixels!.target[c]!).forEach((p, i) => expect(Array.from(p)).toEqual(Array.from(want[i]!)));
    });
    const before = learner.exportState();
    for (let k = 0; k < 3; k++) learner.update(batches);
    const after = learner.exportState();
    const names = (after.header['variables'] as { name: string }[]).map((v) => v.name);
    let criticMoved = 0;
    names.forEach((n, i) => {
      const same = Array.from(after.sections[i]!).every((v, j) => v === before.sections[i]![j]);
      if (/encoder_/.test(n)) expect({ n, same }).toEqual({ n, same: true });
      else if (/critic/.test(n) && !same) criticMoved++;
    });
    expect(criticMoved).toBeGreaterThan(0);
    expect(learner.encodersFrozen).toBe(true);
  });

  it('refuses encoders of other cameras or another encoder size, naming what differs, and changes nothing', () => {
    const cfg = resolveSacConfig(SacConfigSchema.parse(encoderConfig('sac')));
    const learner = new SacLearner(cfg, 5, 2, new Rng(2), [], 0, new JsKernels(), CAMERAS);
    const mine = encoderParamList(learner.pixels!.online[0]!).map((p) => Float32Array.from(p));
    const onlyFront = new SacLearner(cfg, 5, 2, new Rng(3), [], 0, new JsKernels(), [CAMERAS[0]!]);
    expect(() => learner.loadEncoders(onlyFront.exportState().header, sections(onlyFront), 'ckpt.bin')).toThrow(/ckpt\.bin: no encoder for camera "wrist" \(its run's cameras: front\)/);
    const wider = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ ...encoderConfig('sac'), encoder: { kind: 'conv', filters: 8, strides: [2, 1], features: 6, pad: 2 } })), 5, 2, new Rng(3), [], 0, new JsKernels(), CAMERAS);
    expect(() => learner.loadEncoders(wider.exportState().header, sections(wider), 'ckpt.bin')).toThrow(/ckpt\.bin: its encoder has filters 8, this config 4/);
    // An older checkpoint (no encoder settings in its header): the declared shapes still catch it.
    const { encoder: _settings, ...old } = wider.exportState().header;
    expect(() => learner.loadEncoders(old, sections(wider), 'old.bin')).toThrow(/old\.bin: encoder_front\/conv0\/w has shape \[\d+,8\] there, this encoder needs \[\d+,4\]/);
    // What the shapes cannot tell: other strides (same shapes here), a transposed image.
    const strided = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ ...encoderConfig('sac'), encoder: { kind: 'conv', filters: 4, strides: [1, 2], features: 6, pad: 2 } })), 5, 2, new Rng(3), [], 0, new JsKernels(), CAMERAS);
    expect(() => learner.loadEncoders(strided.exportState().header, sections(strided), 'ckpt.bin')).toThrow(/its encoder has strides \[1,2\], this config \[2,1\]/);
    const turned = new SacLearner(cfg, 5, 2, new Rng(3), [], 0, new JsKernels(), [{ ...CAMERAS[0]!, height: 10, width: 12 }, CAMERAS[1]!]);
    expect(() => learner.loadEncoders(turned.exportState().header, sections(turned), 'ckpt.bin')).toThrow(/camera "front" was 12×10×3 there, 10×12×3 here/);
    encoderParamList(learner.pixels!.online[0]!).forEach((p, i) => expect(Array.from(p)).toEqual(Array.from(mine[i]!)));
    expect(() => learner.loadEncoders({}, [], 'x.bin')).toThrow(/x\.bin: not a learner's checkpoint/);
  });

  it('a checkpoint resumed with encoder.frozen switched is refused naming the field', () => {
    const frozen = resolveSacConfig(SacConfigSchema.parse({ ...encoderConfig('sac'), encoder: { kind: 'conv', filters: 4, strides: [2, 1], features: 6, pad: 2, frozen: true } }));
    const trained = resolveSacConfig(SacConfigSchema.parse(encoderConfig('sac')));
    const a = new SacLearner(frozen, 5, 2, new Rng(2), [], 0, new JsKernels(), CAMERAS);
    const b = new SacLearner(trained, 5, 2, new Rng(2), [], 0, new JsKernels(), CAMERAS);
    expect(() => b.importState(a.exportState().header, sections(a))).toThrow(/encoders were frozen \(algo\.encoder\.frozen: true\); this config says frozen: false/);
    expect(() => a.importState(b.exportState().header, sections(b))).toThrow(/encoders were trained \(algo\.encoder\.frozen: false\); this config says frozen: true/);
  });
});

describe('learning from pixels', () => {
  it('SAC with the conv encoder learns where the dot is: better than any policy blind to the image', async () => {
    const S = DotTask.SIZE;
    const cameras: CameraShape[] = [{ name: 'dot', height: S, width: S, channels: 1 }];
    // Shift pad 1: the dot's column is the answer, so a large shift would blur the label (DrQ's pad 4 assumes ~84-px frames).
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [64, 64], batchSize: 64, gamma: 0.5, encoder: { kind: 'conv', filters: 8, strides: [2, 1], features: 16, pad: 1 } }));
    const learner = new SacLearner(config, 1, 1, new Rng(5), [], 0, await loadBlasKernels({ threads: 1 }), cameras);
    const env = new DotTask(new Rng(6));
    const rng = new Rng(7);
    const N = 1500;
    const frames = new Uint8Array(N * S * S);
    const actions = new Float32Array(N);
    const rewards = new Float32Array(N);
    const batch = allocBatch({ capacity: 1, obsDim: 1, actDim: 1, costDim: 0, cameras }, 64);
    batch.obs.fill(1);
    batch.nextObs.fill(1);
    batch.discount.fill(0); // one-step episodes: terminated
    const evaluate = (policy: (o: { state: Float32Array; dot: Uint8Array }) => number): number => {
      const task = new DotTask(new Rng(99));
      let total = 0;
      for (let i = 0; i < 200; i++) total += task.reward(policy(task.reset()));
      return total / 200;
    };
    const random = evaluate(() => rng.uniform(-1, 1));
    let actor = new GaussianActor(learner.snapshot(), new Rng(8));
    for (let t = 0; t < N; t++) {
      const o = env.reset();
      const a = t < 200 ? rng.uniform(-1, 1) : (actor.act(o, false)[0] as number);
      frames.set(o.dot, t * S * S);
      actions[t] = a;
      rewards[t] = env.reward(a);
      if (t < 200) continue;
      for (let r = 0; r < 64; r++) {
        const j = rng.int(t + 1);
        batch.frames![0]!.set(frames.subarray(j * S * S, (j + 1) * S * S), r * S * S);
        batch.nextFrames![0]!.set(frames.subarray(j * S * S, (j + 1) * S * S), r * S * S);
        batch.action[r] = actions[j]!;
        batch.reward[r] = rewards[j]!;
      }
      learner.update([batch]);
      if (t % 50 === 0) actor = new GaussianActor(learner.snapshot(), new Rng(t));
      if (t % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    actor = new GaussianActor(learner.snapshot(), new Rng(9));
    const learned = evaluate((o) => actor.act(o, true)[0] as number);
    expect(random).toBeLessThan(-0.55);
    // The best image-blind policy scores −0.5; reading the dot's column gets well past it. Measured: −0.22 trained,
    // −0.52 with the encoder frozen at its initial weights (no critic gradient; 2,000 steps), random −0.70.
    expect(learned).toBeGreaterThan(-0.3);
  }, 180_000);
});

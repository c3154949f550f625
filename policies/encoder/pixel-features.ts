import type { Rng } from '../../control/rng.js';
import type { Kernels } from '../kernels/kernels.js';
import type { Batch, CameraShape } from '../replay.js';
import { randomShift } from './augment.js';
import { cloneEncoder, ConvEncoderPass, createConvEncoder, encoderParamList, encoderParamShapes, type ConvEncoderParams, type ConvEncoderSpec } from './conv-encoder.js';

/** The encoder settings a learner reads (policies/sac/config.ts `encoder`). */
export interface PixelEncoderConfig {
  readonly filters: number;
  readonly strides: readonly number[];
  readonly features: number;
  readonly pad: number;
}

/** One conv encoder per camera and its Polyak-averaged target; features concatenate in camera order. */
export interface PixelEncoders {
  readonly cameras: readonly CameraShape[];
  readonly specs: ConvEncoderSpec[];
  readonly online: ConvEncoderParams[];
  readonly target: ConvEncoderParams[];
  /** Features per observation: cameras × features. */
  readonly featDim: number;
  readonly pad: number;
}

/** Creates the encoders (parameters drawn from `rng`, camera by camera); targets start equal. */
export function createPixelEncoders(config: PixelEncoderConfig, cameras: readonly CameraShape[], rng: Rng): PixelEncoders {
  if (cameras.length === 0) throw new Error('an image encoder needs at least one camera in the observation');
  const specs = cameras.map((c) => ({ height: c.height, width: c.width, channels: c.channels, filters: config.filters, strides: config.strides, features: config.features }));
  const online = specs.map((s) => createConvEncoder(s, rng));
  return { cameras: cameras.map((c) => ({ ...c })), specs, online, target: online.map(cloneEncoder), featDim: cameras.length * config.features, pad: config.pad };
}

/** Named parameter arrays (online, then target encoders) for checkpoints. */
export function pixelParams(e: PixelEncoders, prefix: string): { name: string; shape: number[]; data: Float32Array }[] {
  const named = (p: ConvEncoderParams, spec: ConvEncoderSpec, name: string): { name: string; shape: number[]; data: Float32Array }[] => {
    const data = encoderParamList(p);
    return encoderParamShapes(spec, `${prefix}/${name}`).map((s, i) => ({ ...s, data: data[i] as Float32Array }));
  };
  return [...e.online.map((p, c) => named(p, e.specs[c] as ConvEncoderSpec, `encoder_${e.cameras[c]?.name}`)), ...e.target.map((p, c) => named(p, e.specs[c] as ConvEncoderSpec, `target_encoder_${e.cameras[c]?.name}`))].flat();
}

/**
 * The buffers of the encoders at one batch size: the augmented images of obs and next obs, a
 * pass per camera that is differentiated (obs, critic loss) and forward-only passes for the
 * next observation (online for the actor's a′, target for Q̄).
 */
export class PixelWorkspace {
  readonly images: Float32Array[];
  readonly nextImages: Float32Array[];
  readonly passes: ConvEncoderPass[];
  readonly forwardPasses: ConvEncoderPass[];
  /** Encoder gradients of the last {@link backward}, every camera's in {@link encoderParamList} order. */
  readonly grads: Float32Array[];
  private readonly dFeat: Float32Array;

  constructor(
    readonly enc: PixelEncoders,
    readonly B: number,
    kernels: Kernels,
  ) {
    const size = (c: CameraShape): number => B * c.height * c.width * c.channels;
    this.images = enc.cameras.map((c) => new Float32Array(size(c)));
    this.nextImages = enc.cameras.map((c) => new Float32Array(size(c)));
    this.passes = enc.specs.map((s) => new ConvEncoderPass(s, B, kernels));
    this.forwardPasses = enc.specs.map((s) => new ConvEncoderPass(s, B, kernels));
    this.grads = this.passes.flatMap((p) => p.grads);
    this.dFeat = new Float32Array(B * Math.max(...enc.specs.map((s) => s.features)));
  }

  /** DrQ random shift of every camera's obs and next-obs frames (independent draws), into {@link images} / {@link nextImages}. */
  augment(batch: Batch, rng: Rng): void {
    const { frames, nextFrames } = batch;
    if (!frames || !nextFrames || frames.length !== this.enc.cameras.length || nextFrames.length !== this.enc.cameras.length) {
      throw new Error(`the learner's encoder expects ${this.enc.cameras.length} camera frame(s) per batch row (${this.enc.cameras.map((c) => c.name).join(', ')}), the batch has ${frames?.length ?? 0}`);
    }
    this.enc.cameras.forEach((c, i) => {
      randomShift(frames[i] as Uint8Array, this.B, c.height, c.width, c.channels, this.enc.pad, rng, this.images[i] as Float32Array);
      randomShift(nextFrames[i] as Uint8Array, this.B, c.height, c.width, c.channels, this.enc.pad, rng, this.nextImages[i] as Float32Array);
    });
  }

  /**
   * Writes rows [features | state] (width featDim + stateDim) into `dst`. `which`: `obs` through
   * the differentiated passes; `next` / `target` through forward-only passes of the online or
   * target encoders (no gradient: the actor's features and the bootstrap are detached).
   */
  observe(which: 'obs' | 'next' | 'target', state: Float32Array, stateDim: number, dst: Float32Array): Float32Array {
    const { enc, B } = this;
    const width = enc.featDim + stateDim;
    let col = 0;
    enc.cameras.forEach((_, i) => {
      const pass = (which === 'obs' ? this.passes[i] : this.forwardPasses[i]) as ConvEncoderPass;
      const params = (which === 'target' ? enc.target[i] : enc.online[i]) as ConvEncoderParams;
      const f = pass.forward(params, (which === 'obs' ? this.images[i] : this.nextImages[i]) as Float32Array);
      const F = pass.spec.features;
      for (let r = 0; r < B; r++) dst.set(f.subarray(r * F, (r + 1) * F), r * width + col);
      col += F;
    });
    for (let r = 0; r < B; r++) dst.set(state.subarray(r * stateDim, (r + 1) * stateDim), r * width + enc.featDim);
    return dst;
  }

  /** Backpropagates the feature columns of dL/d(input) (rows of `width`) through the `obs` passes into {@link grads}. */
  backward(dInput: Float32Array, width: number): Float32Array[] {
    let col = 0;
    this.passes.forEach((pass) => {
      const F = pass.spec.features;
      for (let r = 0; r < this.B; r++) for (let j = 0; j < F; j++) this.dFeat[r * F + j] = dInput[r * width + col + j] as number;
      pass.backward(this.dFeat);
      col += F;
    });
    return this.grads;
  }
}

/** The acting side: encoders at batch 1 for one observation's frames, features then state. */
export function encodeObservation(enc: { readonly specs: readonly ConvEncoderSpec[]; readonly params: readonly ConvEncoderParams[] }, passes: readonly ConvEncoderPass[], frames: readonly Uint8Array[], state: Float32Array, dst: Float32Array): Float32Array {
  let col = 0;
  enc.specs.forEach((s, i) => {
    const frame = frames[i] as Uint8Array;
    const x = new Float32Array(frame.length);
    for (let k = 0; k < frame.length; k++) x[k] = (frame[k] as number) / 255;
    dst.set((passes[i] as ConvEncoderPass).forward(enc.params[i] as ConvEncoderParams, x), col);
    col += s.features;
  });
  dst.set(state, col);
  return dst;
}

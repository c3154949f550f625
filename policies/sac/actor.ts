import type { Policy } from '../../control/policy.js';
import type { Rng } from '../../control/rng.js';
import type { DictObservation } from '../../control/spaces.js';
import { ConvEncoderPass } from '../encoder/conv-encoder.js';
import { encodeObservation } from '../encoder/pixel-features.js';
import { JsKernels } from '../kernels/kernels.js';
import { MlpJs } from '../nn/mlp-js.js';
import type { PolicySnapshot } from './sac.js';

/**
 * The acting side of SAC: runs a {@link PolicySnapshot} at batch 1 in plain JS (no tensor
 * kernels per control tick) and takes newer snapshots as the learner publishes them. Stochastic
 * actions use the actor's own seeded RNG; `deterministic` acts with tanh(μ) (evaluation).
 */
export class GaussianActor {
  private readonly net: MlpJs;
  private snapshotVersion: number;
  private readonly action: Float32Array;
  /** Image observations: batch-1 encoder passes (plain JS gemm: one frame is ~10 MFLOP) and the network input. */
  private readonly pixels: { readonly passes: ConvEncoderPass[]; readonly input: Float32Array } | null;

  constructor(
    private snapshot: PolicySnapshot,
    private readonly rng: Rng,
  ) {
    this.net = new MlpJs(snapshot.weights);
    this.snapshotVersion = snapshot.version;
    this.action = new Float32Array(snapshot.actDim);
    const enc = snapshot.encoder;
    this.pixels = enc ? { passes: enc.specs.map((s) => new ConvEncoderPass(s, 1, new JsKernels())), input: new Float32Array(snapshot.weights.spec.input) } : null;
  }

  /** Version of the parameters acting now. */
  get version(): number {
    return this.snapshotVersion;
  }

  /** Adopts a newer snapshot; older or equal versions are ignored. */
  update(snapshot: PolicySnapshot): void {
    if (snapshot.version <= this.snapshotVersion) return;
    this.snapshot = snapshot;
    this.snapshotVersion = snapshot.version;
    this.net.setWeights(snapshot.weights);
  }

  /**
   * An action in [−1, 1]^A for one observation (a fresh array): a state vector, or with an image
   * encoder a dict observation whose frames go through the snapshot's encoders first.
   */
  act(obs: Float32Array | DictObservation, deterministic: boolean): Float32Array {
    const out = this.net.forward(this.networkInput(obs));
    const { actDim, logStdMin, logStdMax } = this.snapshot;
    for (let i = 0; i < actDim; i++) {
      const mean = out[i] as number;
      if (deterministic) {
        this.action[i] = Math.tanh(mean);
        continue;
      }
      const logStd = logStdMin + 0.5 * (logStdMax - logStdMin) * (Math.tanh(out[actDim + i] as number) + 1);
      this.action[i] = Math.tanh(mean + Math.exp(logStd) * this.rng.normal());
    }
    return this.action.slice();
  }

  private networkInput(obs: Float32Array | DictObservation): Float32Array {
    const enc = this.snapshot.encoder;
    if (!enc || !this.pixels) {
      if (!(obs instanceof Float32Array)) throw new TypeError('GaussianActor: a dict observation needs a policy with an image encoder (algo.encoder)');
      return obs;
    }
    if (obs instanceof Float32Array) throw new TypeError(`GaussianActor: this policy sees camera frames (${enc.cameras.map((c) => c.name).join(', ')}); got a state vector only`);
    const frames = enc.cameras.map((c) => {
      const f = obs[c.name];
      if (!(f instanceof Uint8Array) || f.length !== c.height * c.width * c.channels) throw new TypeError(`GaussianActor: observation.${c.name} must be a Uint8Array of ${c.height}×${c.width}×${c.channels} bytes`);
      return f;
    });
    return encodeObservation({ specs: enc.specs, params: enc.params }, this.pixels.passes, frames, obs.state, this.pixels.input);
  }

  /** This actor as a {@link Policy}. */
  policy(deterministic: boolean): Policy {
    return (obs) => this.act(obs, deterministic);
  }
}

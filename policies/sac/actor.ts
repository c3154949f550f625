import type { Policy } from '../../control/policy.js';
import type { Rng } from '../../control/rng.js';
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

  constructor(
    private snapshot: PolicySnapshot,
    private readonly rng: Rng,
  ) {
    this.net = new MlpJs(snapshot.weights);
    this.snapshotVersion = snapshot.version;
    this.action = new Float32Array(snapshot.actDim);
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

  /** An action in [−1, 1]^A for one observation (a fresh array). */
  act(obs: Float32Array, deterministic: boolean): Float32Array {
    const out = this.net.forward(obs);
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

  /** This actor as a {@link Policy}. */
  policy(deterministic: boolean): Policy {
    return (obs) => this.act(obs, deterministic);
  }
}

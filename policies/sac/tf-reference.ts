import * as tf from '@tensorflow/tfjs-core';
import { disposeMlp, mlpFromParams, mlpForward, type Mlp } from '../nn/mlp.js';
import type { SacLearner } from './sac.js';
import { boundLogStd, squashedSample } from './squashed-gaussian.js';

let mirrors = 0;

/**
 * A tfjs copy of a learner's networks, for tests: the reference losses are written the obvious
 * way on it and differentiated by tfjs autodiff, then compared with the learner's hand-written
 * gradients. Variables are named `…/actor/w0` in the learner's parameter order.
 */
export class TfMirror {
  readonly actor: Mlp;
  readonly critics: Mlp[];
  readonly targets: Mlp[];
  readonly costCritics: Mlp[];
  readonly costTargets: Mlp[];

  constructor(private readonly learner: SacLearner) {
    const p = `mirror${mirrors++}`;
    this.actor = mlpFromParams(learner.actor, `${p}/actor`);
    this.critics = learner.critics.map((c, i) => mlpFromParams(c, `${p}/critic${i}`));
    this.targets = learner.targets.map((c, i) => mlpFromParams(c, `${p}/target${i}`));
    this.costCritics = learner.costCritics.map((c, i) => mlpFromParams(c, `${p}/cost${i}`));
    this.costTargets = learner.costTargets.map((c, i) => mlpFromParams(c, `${p}/cost_target${i}`));
  }

  /** Squashed-Gaussian sample and log-density (tfjs ops, differentiable). */
  policy(obs: tf.Tensor2D, eps: tf.Tensor2D): { action: tf.Tensor2D; logProb: tf.Tensor1D } {
    const out = mlpForward(this.actor, obs);
    const [mean, raw] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return squashedSample(mean, boundLogStd(raw, this.learner.config.logStdMin, this.learner.config.logStdMax), eps);
  }

  /** Q(s, a) of one network as a [B] tensor. */
  q(m: Mlp, obs: tf.Tensor2D, action: tf.Tensor2D): tf.Tensor1D {
    return tf.reshape(mlpForward(m, tf.concat([obs, action], 1)), [-1]);
  }

  dispose(): void {
    [this.actor, ...this.critics, ...this.targets, ...this.costCritics, ...this.costTargets].forEach(disposeMlp);
  }
}

import { Rng } from '../../control/rng.js';
import { IDLE, type TeleopContext, type TeleopDevice, type TeleopReading } from '../device.js';

export interface SimulatedHumanOptions {
  /**
   * The person's judgement: the action they would take at an observation (learner units). A
   * task's scripted expert, expressed in [−1, 1] (experiment/setup `scriptedInLearnerUnits`).
   */
  readonly expert: (obs: Float32Array) => Float32Array;
  /** Steps the person needs to notice and react (their action uses the observation this many steps old). Default 3 (120 ms at 25 Hz). */
  readonly reactionSteps?: number;
  /** Std of Gaussian noise on the person's actions (a hand is not a controller). Default 0.05. */
  readonly noise?: number;
  /**
   * Takeover rule: the person takes over when the policy's proposal has disagreed with what they
   * would do by more than `disagreement` (mean absolute difference per dimension) for
   * `patience` consecutive steps — the policy is heading somewhere wrong — and hands back after
   * `holdSteps` steps in control. Defaults 0.5, 5, 15.
   */
  readonly disagreement?: number;
  readonly patience?: number;
  readonly holdSteps?: number;
  /** At most this share of an episode's steps in control (a person's attention is finite). Default 1. */
  readonly budget?: number;
  readonly seed?: number;
}

/**
 * A stand-in for a person at a teleop device, for tests and benchmarks: a task's scripted
 * expert with a reaction delay, hand noise, and a takeover rule (persistent disagreement with
 * the policy), released after a while. Deterministic for a seed.
 */
export class SimulatedHuman implements TeleopDevice {
  readonly name = 'simulated';
  private readonly rng: Rng;
  private readonly history: Float32Array[] = [];
  private streak = 0;
  private controlLeft = 0;
  private stepsInControl = 0;

  constructor(private readonly options: SimulatedHumanOptions) {
    this.rng = new Rng(options.seed ?? 0);
  }

  episodeStart(): void {
    this.history.length = 0;
    this.streak = 0;
    this.controlLeft = 0;
    this.stepsInControl = 0;
  }

  poll({ obs, proposed, t }: TeleopContext): TeleopReading {
    const o = this.options;
    this.history.push(Float32Array.from(obs));
    const delay = o.reactionSteps ?? 3;
    if (this.history.length > delay + 1) this.history.shift();
    // What the person would do, from what they saw `delay` steps ago.
    const seen = this.history[0] as Float32Array;
    const wanted = o.expert(seen);
    if (this.controlLeft === 0) {
      let diff = 0;
      for (let i = 0; i < proposed.length; i++) diff += Math.abs((proposed[i] as number) - (wanted[i] as number));
      this.streak = diff / proposed.length > (o.disagreement ?? 0.5) ? this.streak + 1 : 0;
      const withinBudget = this.stepsInControl < (o.budget ?? 1) * (t + 1);
      if (this.streak >= (o.patience ?? 5) && withinBudget) this.controlLeft = o.holdSteps ?? 15;
    }
    if (this.controlLeft === 0) return IDLE;
    this.controlLeft--;
    this.stepsInControl++;
    if (this.controlLeft === 0) this.streak = 0;
    const noise = o.noise ?? 0.05;
    const action = Float32Array.from(wanted, (v) => Math.max(-1, Math.min(1, v + noise * this.rng.normal())));
    return { engaged: true, action, button: null, connected: true };
  }

  async close(): Promise<void> {}
}

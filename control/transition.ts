/**
 * One environment transition, as actors hand them to learners (the transition sink). The
 * executed action is what the env ran; the proposed action is what the policy asked for (they
 * differ when a safety shield or a human intervened). `O`: the observation type — a state
 * vector, or a dict observation with camera frames (control/spaces.ts).
 */
export interface Transition<O = Float32Array> {
  readonly obs: O;
  readonly action: Float32Array;
  readonly proposedAction?: Float32Array;
  readonly reward: number;
  readonly costs: Float32Array;
  readonly nextObs: O;
  /** True terminal: no bootstrap. */
  readonly terminated: boolean;
  /** Episode cut short (time limit): bootstrap from nextObs, but n-step sums stop here. */
  readonly truncated: boolean;
  /** A safety layer or a person changed the action. */
  readonly intervened?: boolean;
  /** The person was in control (human in the loop): the transition also feeds the demo buffer. */
  readonly human?: boolean;
  /** Version of the policy parameters that chose the action. */
  readonly policyVersion?: number;
}

/** Where actors put transitions: a replay table, a network channel, a file. */
export interface TransitionSink<O = Float32Array> {
  add(t: Transition<O>): void;
}

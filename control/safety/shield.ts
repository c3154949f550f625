import { validateAction, type Env, type ResetOptions, type ResetResult, type SafetyInfo, type StepResult } from '../env.js';
import { Wrapper } from '../wrappers/wrapper.js';
import { projectOntoPolytope, type HalfSpace } from './projection.js';

/** A constraint linearised in the action at the current state: value + gradientᵀ·a ≤ limit. */
export interface LinearizedConstraint {
  readonly name: string;
  /** c(s): the constraint's value now (e.g. penetration into a keep-out zone plus a margin). */
  readonly value: number;
  /** ∂c(s′)/∂a at a = 0. */
  readonly gradient: ArrayLike<number>;
  readonly limit: number;
}

/** What a shield needs to know about the constraints: their linearisation at an observation. */
export interface ShieldModel {
  readonly constraints: readonly string[];
  linearize(obs: Float32Array): LinearizedConstraint[];
}

/**
 * Tier 1 action shield, the safety layer of Dalal et al. (2018): each step, every constraint
 * is linearised at the current observation, c(s′) ≈ c(s) + g(s)ᵀa, and the policy's action μ
 * is replaced by argmin ½‖a − μ‖² subject to c(s) + g(s)ᵀa ≤ C for every constraint and the
 * action box — a small QP ({@link projectOntoPolytope}), so several active constraints are
 * met together. `info.safety` reports the proposed and executed actions, the correction size,
 * the slack left and infeasibility; the `shield` hit counts corrected steps. An inner safety
 * wrapper's report (Tier 0 under the shield) is merged: proposed stays the policy's action.
 */
export class SafetyShield extends Wrapper {
  private obs: Float32Array | null = null;
  private readonly lower: Float32Array;
  private readonly upper: Float32Array;

  constructor(
    env: Env,
    private readonly model: ShieldModel,
    private readonly options: { tolerance?: number } = {},
  ) {
    super(env);
    const space = env.spec.actionSpace;
    if (space.kind !== 'box') throw new TypeError(`SafetyShield needs a Box action space; ${env.spec.id} has ${space.kind}`);
    this.lower = space.low;
    this.upper = space.high;
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const r = await this.env.reset(options);
    this.obs = r.obs;
    return r;
  }

  override async step(action: Float32Array): Promise<StepResult> {
    validateAction(this.spec, action);
    if (!this.obs) throw new Error('SafetyShield: step() before reset()');
    const halfSpaces: HalfSpace[] = this.model.linearize(this.obs).map((c) => ({ g: c.gradient, b: c.limit - c.value }));
    const p = projectOntoPolytope(action, halfSpaces, this.lower, this.upper, { tolerance: this.options.tolerance });
    const shielded = Float32Array.from(p.action);
    let corrected = false;
    for (let i = 0; i < action.length; i++) if (Math.abs((shielded[i] as number) - (action[i] as number)) > 1e-6) corrected = true;
    const executedByShield = corrected ? shielded : Float32Array.from(action);
    const r = await this.env.step(executedByShield);
    this.obs = r.obs;
    const inner = r.info.safety;
    const executed = inner?.executed ?? executedByShield;
    let sq = 0;
    for (let i = 0; i < action.length; i++) sq += ((executed[i] as number) - (action[i] as number)) ** 2;
    const safety: SafetyInfo = {
      proposed: Float32Array.from(action),
      executed,
      intervened: corrected || (inner?.intervened ?? false),
      hits: { ...(inner?.hits ?? {}), shield: corrected ? 1 : 0, shieldInfeasible: p.infeasible ? 1 : 0, shieldNotConverged: p.converged ? 0 : 1 },
      correction: Math.sqrt(sq),
      slack: p.slack,
      infeasible: p.infeasible,
    };
    return { ...r, info: { ...r.info, safety } };
  }
}

/**
 * A shield model whose constraint gradients are learned (Dalal et al.): g(s) = W·[s; 1] per
 * constraint, fitted by ridge regression on exploration data to c(s′) − c(s) ≈ g(s)ᵀa. The
 * constraint's current value comes from `value(obs)` (it is observable; its response to the
 * action is what is learned).
 */
export class LearnedShieldModel implements ShieldModel {
  private readonly weights: (Float64Array | null)[];
  private readonly samples: { obs: Float32Array; action: Float32Array; delta: number }[][];

  constructor(
    private readonly defs: readonly { name: string; value: (obs: Float32Array) => number; limit: number }[],
    private readonly obsDim: number,
    private readonly actDim: number,
    private readonly ridge = 1e-3,
  ) {
    this.weights = defs.map(() => null);
    this.samples = defs.map(() => []);
  }

  get constraints(): string[] {
    return this.defs.map((d) => d.name);
  }

  /** Records one exploration step for every constraint. */
  observe(obs: Float32Array, action: Float32Array, nextObs: Float32Array): void {
    this.defs.forEach((d, i) => this.samples[i]?.push({ obs: Float32Array.from(obs), action: Float32Array.from(action), delta: d.value(nextObs) - d.value(obs) }));
  }

  /** Solves the ridge regressions; returns each constraint's mean squared residual on its data. */
  fit(): number[] {
    const f = this.obsDim + 1;
    const p = this.actDim * f;
    return this.defs.map((_, c) => {
      const data = this.samples[c] as { obs: Float32Array; action: Float32Array; delta: number }[];
      if (data.length < p) throw new Error(`LearnedShieldModel: ${data.length} samples for ${p} parameters; explore longer`);
      const A = Array.from({ length: p }, (_, i) => {
        const row = new Float64Array(p);
        row[i] = this.ridge * data.length;
        return row;
      });
      const b = new Float64Array(p);
      const x = new Float64Array(p);
      for (const s of data) {
        this.features(s.obs, s.action, x);
        for (let i = 0; i < p; i++) {
          const xi = x[i] as number;
          if (xi === 0) continue;
          b[i] = (b[i] as number) + xi * s.delta;
          const row = A[i] as Float64Array;
          for (let j = 0; j < p; j++) row[j] = (row[j] as number) + xi * (x[j] as number);
        }
      }
      const w = solveSymmetric(A, b);
      this.weights[c] = w;
      let sse = 0;
      for (const s of data) {
        this.features(s.obs, s.action, x);
        let pred = 0;
        for (let i = 0; i < p; i++) pred += (w[i] as number) * (x[i] as number);
        sse += (pred - s.delta) ** 2;
      }
      return sse / data.length;
    });
  }

  linearize(obs: Float32Array): LinearizedConstraint[] {
    return this.defs.map((d, c) => {
      const w = this.weights[c];
      if (!w) throw new Error(`LearnedShieldModel: constraint "${d.name}" is not fitted yet`);
      const f = this.obsDim + 1;
      const g = new Float64Array(this.actDim);
      for (let k = 0; k < this.actDim; k++) {
        let v = w[k * f + this.obsDim] as number;
        for (let j = 0; j < this.obsDim; j++) v += (w[k * f + j] as number) * (obs[j] as number);
        g[k] = v;
      }
      return { name: d.name, value: d.value(obs), gradient: g, limit: d.limit };
    });
  }

  /** x = a ⊗ [s; 1], so that g(s)ᵀa = vec(W)·x. */
  private features(obs: Float32Array, action: Float32Array, out: Float64Array): void {
    const f = this.obsDim + 1;
    for (let k = 0; k < this.actDim; k++) {
      const ak = action[k] as number;
      for (let j = 0; j < this.obsDim; j++) out[k * f + j] = ak * (obs[j] as number);
      out[k * f + this.obsDim] = ak;
    }
  }
}

/** Gaussian elimination with partial pivoting (the ridge term keeps A well conditioned). */
function solveSymmetric(A: readonly Float64Array[], b: Float64Array): Float64Array {
  const n = b.length;
  const M: Float64Array[] = A.map((r) => Float64Array.from(r));
  const y = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs((M[r] as Float64Array)[c] as number) > Math.abs((M[piv] as Float64Array)[c] as number)) piv = r;
    const tmp = M[c] as Float64Array;
    M[c] = M[piv] as Float64Array;
    M[piv] = tmp;
    [y[c], y[piv]] = [y[piv] as number, y[c] as number];
    const row = M[c] as Float64Array;
    const d = row[c] as number;
    if (Math.abs(d) < 1e-300) throw new Error('LearnedShieldModel: singular normal equations');
    for (let r = c + 1; r < n; r++) {
      const other = M[r] as Float64Array;
      const f = (other[c] as number) / d;
      if (f === 0) continue;
      for (let k = c; k < n; k++) other[k] = (other[k] as number) - f * (row[k] as number);
      y[r] = (y[r] as number) - f * (y[c] as number);
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    const row = M[r] as Float64Array;
    let s = y[r] as number;
    for (let k = r + 1; k < n; k++) s -= (row[k] as number) * (x[k] as number);
    x[r] = s / (row[r] as number);
  }
  return x;
}

/**
 * Lagrange multipliers for constrained RL, one per named constraint (shared/facts/safe-rl.md).
 * Each multiplier sees the mean episode cost J_c of that constraint and its own limit d, and
 * returns λ ≥ 0 for the actor loss (α·log π − Q_r + Σᵢ λᵢ·Q_cᵢ) / (1 + Σᵢ λᵢ).
 *
 * - `lagrangian`: projected gradient ascent on λ·(J_c − d): λ ← clip(λ + lr·(J_c − d), 0, λmax).
 * - `pid` (Stooke et al. 2020), with Δ = J_c − d:
 *     I ← max(0, I + K_i·Δ);  P = EMA(Δ);  D = max(0, EMA(J_c) − EMA(J_c) `delay` updates ago)
 *     λ = clip(K_p·P + I + K_d·D, 0, λmax)
 *
 * Their whole state (λ, integrator, EMAs, the delay line) is plain JSON, saved in checkpoints.
 */
export interface MultiplierConfig {
  readonly method: 'lagrangian' | 'pid';
  /** Initial λ. */
  readonly init: number;
  /** Upper bound on λ. */
  readonly max: number;
  /** Step size of the `lagrangian` update. */
  readonly lr: number;
  readonly kp: number;
  readonly ki: number;
  readonly kd: number;
  /** EMA factor for P and D terms (weight of the newest value). */
  readonly ema: number;
  /** Updates between the two cost EMAs the D term compares. */
  readonly delay: number;
}

export interface MultiplierState {
  lambda: number;
  integral: number;
  deltaEma: number | null;
  costEma: number | null;
  history: number[];
  updates: number;
}

export class LagrangeMultiplier {
  private s: MultiplierState;

  constructor(
    readonly name: string,
    readonly limit: number,
    private readonly config: MultiplierConfig,
  ) {
    if (!(limit >= 0)) throw new RangeError(`constraint "${name}": cost limit must be ≥ 0, got ${limit}`);
    // PID: λ starts from the integrator, so a nonzero initial λ is an initial integral.
    this.s = { lambda: config.init, integral: config.method === 'pid' ? config.init : 0, deltaEma: null, costEma: null, history: [], updates: 0 };
  }

  get lambda(): number {
    return this.s.lambda;
  }

  /** One multiplier update from the mean episode cost `episodeCost` of this constraint. */
  update(episodeCost: number): number {
    if (!Number.isFinite(episodeCost)) throw new RangeError(`constraint "${this.name}": episode cost is ${episodeCost}`);
    const c = this.config;
    const delta = episodeCost - this.limit;
    const s = this.s;
    s.updates++;
    if (c.method === 'lagrangian') {
      s.lambda = clamp(s.lambda + c.lr * delta, 0, c.max);
      return s.lambda;
    }
    s.integral = Math.max(0, s.integral + c.ki * delta);
    s.deltaEma = s.deltaEma === null ? delta : (1 - c.ema) * s.deltaEma + c.ema * delta;
    s.costEma = s.costEma === null ? episodeCost : (1 - c.ema) * s.costEma + c.ema * episodeCost;
    s.history.push(s.costEma);
    if (s.history.length > c.delay + 1) s.history.shift();
    const past = s.history[0] as number;
    const derivative = Math.max(0, s.costEma - past);
    s.lambda = clamp(c.kp * s.deltaEma + s.integral + c.kd * derivative, 0, c.max);
    return s.lambda;
  }

  state(): MultiplierState {
    return structuredClone(this.s);
  }

  restore(state: MultiplierState): void {
    if (typeof state?.lambda !== 'number' || !Array.isArray(state.history)) throw new Error(`constraint "${this.name}": malformed multiplier state in checkpoint`);
    this.s = structuredClone(state);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envEntry, make } from '../../tasks/registry.js';
import { PandaReach, pandaReachExpert } from '../../tasks/panda-reach.js';
import { keepOutShieldModel } from '../../tasks/panda-keep-out.js';
import { Pendulum } from '../../tasks/pendulum.js';
import { unwrap } from '../wrappers/wrapper.js';
import { compileCost, ExpressionConstraints } from './expressions.js';
import { projectOntoPolytope, type HalfSpace } from './projection.js';
import { SafetyLimits } from './safety-limits.js';
import { LearnedShieldModel, SafetyShield } from './shield.js';
import { Rng } from '../rng.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, v, i) => s + v * (b[i] as number), 0);
const vec = (n: number) => fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n });

describe('safety-layer projection (QP onto half-spaces and the action box)', () => {
  // Feasible sets built around a known interior point z: each half-space gᵀa ≤ gᵀz + s, s ≥ 0.
  const feasible = fc.record({
    z: vec(3).map((z) => z.map((v) => v / 2.5)),
    mu: vec(3),
    // Sets with an interior (z strictly inside every row by s ≥ 0.01, and inside the box).
    rows: fc.array(fc.record({ g: vec(3), s: fc.double({ min: 0.01, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 5 }),
  });
  const lower = [-1, -1, -1];
  const upper = [1, 1, 1];

  it('the result satisfies every half-space and the box, and is the closest such point (variational inequality)', () => {
    fc.assert(
      fc.property(feasible, fc.array(vec(3), { minLength: 5, maxLength: 5 }), ({ z, mu, rows }, probes) => {
        const hs: HalfSpace[] = rows.map((r) => ({ g: r.g, b: dot(r.g, z) + r.s }));
        const p = projectOntoPolytope(mu, hs, lower, upper);
        expect(p.infeasible).toBe(false);
        for (const h of hs) expect(dot(h.g, p.action)).toBeLessThanOrEqual(h.b + 1e-5);
        for (let i = 0; i < 3; i++) expect(Math.abs(p.action[i] as number)).toBeLessThanOrEqual(1 + 1e-6);
        // Projection onto a convex set: (μ − a*)·(x − a*) ≤ 0 for every feasible x (x = z + t(probe − z) kept feasible).
        for (const probe of [z, ...probes]) {
          let x = probe;
          if (!hs.every((h) => dot(h.g, x) <= h.b) || x.some((v) => Math.abs(v) > 1)) x = z;
          const lhs = dot(mu.map((m, i) => m - (p.action[i] as number)), x.map((v, i) => v - (p.action[i] as number)));
          expect(lhs).toBeLessThanOrEqual(1e-4);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an action that already satisfies everything passes unchanged; projecting twice equals once', () => {
    fc.assert(
      fc.property(feasible, ({ z, mu, rows }) => {
        const hs: HalfSpace[] = rows.map((r) => ({ g: r.g, b: dot(r.g, z) + r.s }));
        const inside = projectOntoPolytope(z, hs, lower, upper);
        inside.action.forEach((v, i) => expect(v).toBeCloseTo(z[i] as number, 9));
        const once = projectOntoPolytope(mu, hs, lower, upper).action;
        const twice = projectOntoPolytope(once, hs, lower, upper).action;
        twice.forEach((v, i) => expect(v).toBeCloseTo(once[i] as number, 5));
      }),
      { numRuns: 300 },
    );
  });

  it('a constraint and an action bound are met together, where the one-constraint closed form then clipping is not', () => {
    const h: HalfSpace = { g: [1, 0.2], b: -0.9 };
    const mu = [0, 1];
    const qp = projectOntoPolytope(mu, [h], [-1, -1], [1, 1]);
    expect(qp.action[0]).toBeCloseTo(-1, 6);
    expect(qp.action[1]).toBeCloseTo(0.5, 6);
    expect(dot(h.g, qp.action)).toBeLessThanOrEqual(h.b + 1e-6);
    // Dalal's single-constraint closed form, then clipping to the box: the constraint breaks.
    const v = dot(h.g, mu) - h.b;
    const clipped = mu.map((x, i) => Math.min(1, Math.max(-1, x - (v / dot(h.g, h.g)) * (h.g[i] as number))));
    expect(dot(h.g, clipped) - h.b).toBeGreaterThan(0.05);
  });

  it('several active half-spaces at once: the solution sits on their intersection', () => {
    const hs: HalfSpace[] = [
      { g: [1, 1, 0], b: 0 },
      { g: [1, -1, 0], b: 0 },
      { g: [0, 0, 1], b: -0.5 },
    ];
    const p = projectOntoPolytope([1, 0.2, 0], hs, [-2, -2, -2], [2, 2, 2]);
    expect(Array.from(p.action).map((x) => Math.round(x * 1e6) / 1e6 + 0)).toEqual([0, 0, -0.5]);
    expect(p.active).toEqual([0, 1, 2]);
  });

  it('an empty feasible set is reported as infeasible with the remaining slack, and the result stays in the box', () => {
    const p = projectOntoPolytope([0.5, 0.5], [{ g: [1, 0], b: -3 }], [-1, -1], [1, 1]);
    expect(p.infeasible).toBe(true);
    expect(p.slack).toBeCloseTo(2, 6);
    for (const v of p.action) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    expect(() => projectOntoPolytope([0], [{ g: [Number.NaN], b: 0 }], [-1], [1])).toThrow(/non-finite/);
  });
});

describe('projection worst cases (issue 11): conflicting, nearly parallel and many constraints', () => {
  const maxViolation = (a: ArrayLike<number>, hs: readonly HalfSpace[]): number => Math.max(0, ...hs.map((h) => (dot(h.g, a) - h.b) / Math.sqrt(dot(h.g, h.g))));
  const box = { lower: new Array<number>(7).fill(-1), upper: new Array<number>(7).fill(1) };

  it('conflicting constraints: the least-violation answer, the same whatever their order', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 50; trial++) {
      // Pairs of opposing half-spaces that cannot both hold: gᵀa ≤ −c and −gᵀa ≤ −c.
      const hs: HalfSpace[] = [];
      for (let k = 0; k < 4; k++) {
        const g = Array.from({ length: 7 }, () => rng.normal());
        const c = rng.uniform(0.05, 0.5);
        hs.push({ g, b: -c }, { g: g.map((v) => -v), b: -c });
      }
      const mu = Array.from({ length: 7 }, () => rng.uniform(-1, 1));
      const p = projectOntoPolytope(mu, hs, box.lower, box.upper);
      expect(p.infeasible).toBe(true);
      expect(p.converged).toBe(true);
      const shuffled = [...hs].reverse();
      const q = projectOntoPolytope(mu, shuffled, box.lower, box.upper);
      for (let k = 0; k < 7; k++) expect(q.action[k]).toBeCloseTo(p.action[k] as number, 6);
      // No point of the box violates less (probes: random points and the answer nudged).
      const best = maxViolation(p.action, hs);
      for (let probe = 0; probe < 200; probe++) {
        const x = Array.from({ length: 7 }, (_, k) => Math.max(-1, Math.min(1, (p.action[k] as number) + rng.normal() * (probe < 100 ? 0.05 : 1))));
        expect(maxViolation(x, hs)).toBeGreaterThanOrEqual(best - 1e-6);
      }
      for (const v of p.action) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-12);
    }
  });

  it('nearly parallel constraints: solved exactly and flagged converged (they used to stop at the sweep limit unflagged)', () => {
    const g = [1, 0.5, -0.25, 0, 0.3, 0.1, -0.2];
    const hs: HalfSpace[] = [
      { g, b: 0.1 },
      { g: g.map((v, i) => v + (i === 0 ? 1e-7 : 0)), b: 0.1 + 1e-8 },
      { g: g.map((v, i) => v - (i === 3 ? 1e-7 : 0)), b: 0.1 },
    ];
    const p = projectOntoPolytope([1, 1, -1, 0.5, 1, 1, -1], hs, box.lower, box.upper);
    expect(p.converged).toBe(true);
    expect(p.infeasible).toBe(false);
    for (const h of hs) expect(dot(h.g, p.action)).toBeLessThanOrEqual(h.b + 1e-7);
  });

  it('an iteration cap that is too small is reported as not converged, with the action kept in the box', () => {
    const hs: HalfSpace[] = Array.from({ length: 8 }, (_, i) => ({ g: Array.from({ length: 7 }, (_, k) => Math.cos(i * 7 + k)), b: -0.2 }));
    const p = projectOntoPolytope(new Array(7).fill(0.9), hs, box.lower, box.upper, { maxIterations: 1 });
    expect(p.converged).toBe(false);
    for (const v of p.action) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });
});

describe('SafetyShield on PandaKeepOut-v0 (analytic keep-out gradient)', () => {
  it('a straight-to-goal policy enters the keep-out sphere; behind the shield it never does, and still reaches the goal', async () => {
    const straight = pandaReachExpert(); // ignores the sphere: obs[0..22] has PandaReach's layout
    const run = async (shielded: boolean): Promise<{ cost: number; successes: number; corrected: number; maxCorrection: number }> => {
      const inner = await make('PandaKeepOut-v0');
      const env = shielded ? new SafetyShield(inner, keepOutShieldModel()) : inner;
      let cost = 0;
      let successes = 0;
      let corrected = 0;
      let maxCorrection = 0;
      for (let ep = 0; ep < 3; ep++) {
        let { obs } = await env.reset({ seed: ep });
        for (;;) {
          const r = await env.step(straight(obs));
          cost += r.costs[0] as number;
          if (r.info.safety?.intervened) corrected++;
          maxCorrection = Math.max(maxCorrection, r.info.safety?.correction ?? 0);
          obs = r.obs;
          if (r.terminated || r.truncated) {
            if (r.info.success) successes++;
            break;
          }
        }
      }
      await env.close();
      return { cost, successes, corrected, maxCorrection };
    };
    const raw = await run(false);
    const safe = await run(true);
    expect(raw.cost).toBeGreaterThan(10);
    expect(safe.cost).toBe(0);
    expect(safe.corrected).toBeGreaterThan(0);
    expect(safe.maxCorrection).toBeGreaterThan(0);
    expect(safe.successes).toBe(3);
  });

  it('under Tier 0 the report merges: proposed is the policy action, executed what reached the env, hits from both', async () => {
    const inner = await make('PandaKeepOut-v0');
    const env = new SafetyShield(new SafetyLimits(inner, unwrap(inner) as never), envEntry('PandaKeepOut-v0').shield!());
    await env.reset({ seed: 0 });
    const r = await env.step(new Float32Array(7).fill(1));
    const s = r.info.safety!;
    expect(Array.from(s.proposed)).toEqual(new Array(7).fill(1));
    expect(s.hits).toHaveProperty('shield');
    expect(s.hits).toHaveProperty('position');
    expect(s.correction).toBeCloseTo(Math.hypot(...Array.from(s.executed, (v) => v - 1)), 5);
  });
});

describe('LearnedShieldModel (constraint gradient learned from exploration data)', () => {
  it('recovers g(s) = W·[s; 1] from (s, a, Δc) samples and linearises with the observed value', () => {
    const rng = new Rng(3);
    const W = [
      [0.5, -1, 0.2],
      [0, 0.3, -0.7],
    ]; // g_k(s) = W[k]·[s0, s1, 1]
    const value = (o: Float32Array): number => (o[0] as number) + 2 * (o[1] as number);
    const model = new LearnedShieldModel([{ name: 'c', value, limit: 1 }], 2, 2, 1e-6);
    for (let i = 0; i < 400; i++) {
      const s = Float32Array.of(rng.uniform(-1, 1), rng.uniform(-1, 1));
      const a = Float32Array.of(rng.uniform(-1, 1), rng.uniform(-1, 1));
      const g = W.map((w) => (w[0] as number) * (s[0] as number) + (w[1] as number) * (s[1] as number) + (w[2] as number));
      const target = value(s) + (g[0] as number) * (a[0] as number) + (g[1] as number) * (a[1] as number) + rng.normal() * 1e-3;
      // nextObs chosen so that value(next) is the target: put it all in the first coordinate.
      model.observe(s, a, Float32Array.of(target, 0));
    }
    const [mse] = model.fit();
    expect(mse).toBeLessThan(1e-5);
    const lin = model.linearize(Float32Array.of(0.4, -0.2))[0]!;
    expect(lin.value).toBeCloseTo(0, 5);
    expect(lin.gradient[0]).toBeCloseTo(0.5 * 0.4 + 0.2 + 0.2, 2);
    expect(lin.gradient[1]).toBeCloseTo(-0.06 - 0.7, 2);
    expect(() => new LearnedShieldModel([{ name: 'c', value, limit: 0 }], 2, 2).linearize(Float32Array.of(0, 0))).toThrow(/not fitted/);
  });
});

describe('cost expressions (mathjs, restricted scope)', () => {
  it('evaluates arithmetic, comparisons, vectors and conditionals over the given variables', () => {
    const vars = { thdot: -5, tcp: [0.4, 0.1, 0.3] };
    expect(compileCost('abs(thdot) > 4', ['thdot', 'tcp'])(vars)).toBe(1);
    expect(compileCost('norm(tcp - [0.4, 0, 0.3]) < 0.08 ? 1 : 0', ['thdot', 'tcp'])(vars)).toBe(0);
    expect(compileCost('max(0, abs(thdot) - 4) ^ 2', ['thdot'])(vars)).toBeCloseTo(1, 12);
    expect(compileCost('tcp[3] < 0.35', ['tcp'])(vars)).toBe(1);
  });

  it('refuses anything outside the scope: imports, assignments, definitions, unknown names, non-numbers', () => {
    const bad: [string, RegExp][] = [
      ['import({x: 1})', /unknown function "import"/],
      ['x = 1', /AssignmentNode is not allowed/],
      ['f(x) = x', /FunctionAssignmentNode is not allowed/],
      ['evaluate("1+1")', /unknown function "evaluate"/],
      ['process', /unknown variable "process"/],
      ['thdot.constructor', /No access to property|not allowed/],
      ['[1, 2]', /expected a finite number/],
      ['1 +', /cost expression "1 \+"/],
    ];
    for (const [expr, err] of bad) expect(() => compileCost(expr, ['thdot'])({ thdot: 1 }), expr).toThrow(err);
    expect(() => compileCost('thdot / 0 * 0', ['thdot'])({ thdot: 1 })).toThrow(/gave NaN/);
  });

  it('ExpressionConstraints appends named costs computed from the task state (SafePendulum-v0)', async () => {
    const env = await make('SafePendulum-v0');
    expect(env.spec.constraints).toEqual(['joint_velocity', 'speed']);
    await env.reset({ seed: 0 });
    let costly = 0;
    let fast = 0;
    const pendulum = unwrap(env) as Pendulum;
    for (let t = 0; t < 200; t++) {
      const r = await env.step(Float32Array.of(t % 40 < 20 ? 2 : -2));
      if (r.costs[1] === 1) costly++;
      if (Math.abs(pendulum.stateVariables().thdot) > 4) fast++;
    }
    expect(costly).toBe(fast);
    expect(costly).toBeGreaterThan(0);
    expect(() => new ExpressionConstraints(env, pendulum, [{ name: 'speed', cost: '1' }])).toThrow(/declared twice/);
  });

  it('expressions are checked over every reachable state at load: complex, infinite or negative costs are refused, naming the state', async () => {
    const env = await make('Pendulum-v1');
    const pendulum = unwrap(env) as Pendulum;
    await env.reset({ seed: 0 });
    // θ̇ reaches ±8, where 4 − |θ̇| < 0: the square root goes complex (it killed a run at step ~200).
    expect(() => new ExpressionConstraints(env, pendulum, [{ name: 'slow', cost: 'sqrt(4 - abs(thdot))' }]).check()).toThrow(/sqrt\(4 - abs\(thdot\)\)" gave .*i.* at theta = .*, thdot = -?[4-8]/);
    expect(() => new ExpressionConstraints(env, pendulum, [{ name: 'signed', cost: 'thdot' }]).check()).toThrow(/costs must be ≥ 0 at theta/);
    expect(() => new ExpressionConstraints(env, pendulum, [{ name: 'inf', cost: '1 / (thdot - thdot)' }]).check()).toThrow(/expected a finite number/);
    const ok = new ExpressionConstraints(env, pendulum, [{ name: 'fast', cost: 'max(0, abs(thdot) - 4)' }]).check();
    expect(ok.spec.constraints).toEqual(['joint_velocity', 'fast']);
    // At run time too, a negative cost is an error, not a reward.
    expect(() => compileCost('thdot', ['thdot'])({ thdot: -1 })).toThrow(/costs must be ≥ 0/);
  });
});

describe('watchdog on the policy', () => {
  it('a throwing or NaN-producing policy gets the hold action and a policyError hit, and the loop goes on', async () => {
    const inner = await make('PandaReach-v0');
    const panda = unwrap(inner) as PandaReach;
    const env = new SafetyLimits(inner, panda);
    let { obs } = await env.reset({ seed: 0 });
    const errors: unknown[] = [];
    const q0 = Array.from(panda.jointPositions());
    let r = await env.act(() => {
      throw new Error('boom');
    }, obs, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
    expect(r.info.safety?.hits['policyError']).toBe(1);
    expect(Array.from(r.info.safety!.executed)).toEqual(Array.from(panda.holdAction()));
    r = await env.act(() => new Float32Array(7).fill(Number.NaN), r.obs, (e) => errors.push(e));
    expect(errors).toHaveLength(2);
    const drift = Math.max(...Array.from(panda.jointPositions(), (q, i) => Math.abs(q - (q0[i] as number))));
    expect(drift).toBeLessThan(0.02);
    obs = r.obs;
    r = await env.act(() => new Float32Array(7).fill(0.5), obs);
    expect(r.info.safety?.hits['policyError'] ?? 0).toBe(0);
    expect(env.episodeCounts['policyError']).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { checkEnv } from '../check-env.js';
import { InvalidActionError, type StepResult } from '../env.js';
import { Rng } from '../rng.js';
import { make } from '../../tasks/registry.js';
import { PandaReach } from '../../tasks/panda-reach.js';
import { PANDA_TABLE_WORKSPACE } from '../../tasks/panda.js';
import { unwrap, Wrapper } from '../wrappers/wrapper.js';
import { SafetyLimits } from './safety-limits.js';

/** Records every action that reaches the env below it, with its time. */
class Recording extends Wrapper {
  readonly received: { action: Float32Array; at: number }[] = [];
  override async step(action: Float32Array): Promise<StepResult> {
    this.received.push({ action: Float32Array.from(action), at: performance.now() });
    return this.env.step(action);
  }
}

async function safePanda(options = {}): Promise<{ env: SafetyLimits; panda: PandaReach }> {
  const inner = await make('PandaReach-v0', { timeLimit: 1000 });
  const panda = unwrap(inner) as PandaReach;
  return { env: new SafetyLimits(inner, panda, options), panda };
}

describe('SafetyLimits (Tier 0) on the Panda', () => {
  it('still honours the env contract (determinism, bad actions rejected)', async () => {
    const { env } = await safePanda();
    await expect(checkEnv(env, { maxEpisodeSteps: 1100 })).resolves.toBeDefined();
    await expect(env.step(Float32Array.of(0, 0, 0, 0, 0, 0, Number.NaN))).rejects.toThrow(InvalidActionError);
  });

  it('keeps every joint inside its limits under bang-bang actions (measured from the simulator), and counts the hits', async () => {
    const { env, panda } = await safePanda();
    await env.reset({ seed: 1 });
    const { lower, upper } = panda.jointLimits;
    let worst = 0;
    let sawSafetyInfo = false;
    // The impedance-controlled arm covers ~0.03 rad per step: 200-step sweeps reach every bound.
    for (let t = 0; t < 600; t++) {
      const sign = Math.floor(t / 200) % 2 === 0 ? 1 : -1;
      const r = await env.step(new Float32Array(7).fill(sign));
      sawSafetyInfo ||= r.info.safety?.intervened === true;
      const q = panda.jointPositions();
      for (let i = 0; i < 7; i++) worst = Math.max(worst, (lower[i] as number) - (q[i] as number), (q[i] as number) - (upper[i] as number));
      if (r.terminated || r.truncated) await env.reset();
    }
    expect(worst).toBeLessThan(0.005); // never more than 5 mrad past a bound
    expect(sawSafetyInfo).toBe(true);
    expect(env.episodeCounts['velocity']! + env.episodeCounts['position']!).toBeGreaterThan(0);
  });

  it('passes small actions in the middle of the workspace unchanged', async () => {
    const { env } = await safePanda();
    await env.reset({ seed: 2 });
    const rng = new Rng(3);
    for (let t = 0; t < 10; t++) {
      const a = Float32Array.from({ length: 7 }, () => rng.uniform(-0.2, 0.2));
      const r = await env.step(a);
      expect(r.info.safety?.intervened).toBe(false);
      expect(Array.from(r.info.safety!.executed)).toEqual(Array.from(a).map((v) => expect.closeTo(v, 5)));
    }
  });

  it('e-stop holds the arm and truncates every step until cleared', async () => {
    const { env, panda } = await safePanda();
    await env.reset({ seed: 4 });
    await env.estop();
    const before = Array.from(panda.jointPositions());
    for (let t = 0; t < 10; t++) {
      const r = await env.step(new Float32Array(7).fill(1));
      expect(r.truncated).toBe(true);
      expect(Array.from(r.info.safety!.executed)).toEqual(new Array(7).fill(0));
    }
    Array.from(panda.jointPositions()).forEach((q, i) => expect(Math.abs(q - before[i]!)).toBeLessThan(0.02));
    env.clearEStop();
    expect((await env.step(new Float32Array(7).fill(0.1))).truncated).toBe(false);
  });

  it('watchdog: when commands stop arriving, the hold action is sent', async () => {
    // What the env under the safety layer receives, recorded on the way in (a real Panda below).
    const inner = new Recording(await make('PandaReach-v0', { timeLimit: 1000 }));
    const panda = unwrap(inner) as PandaReach;
    const env = new SafetyLimits(inner, panda, { watchdogMs: 20 });
    await env.reset({ seed: 5 });
    await env.step(new Float32Array(7).fill(0.5));
    const lastStep = performance.now();
    expect(inner.received).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(env.episodeCounts['watchdog']).toBe(1);
    // Exactly one more step reached the env, no sooner than the watchdog's 20 ms, and it was the hold.
    expect(inner.received).toHaveLength(2);
    const hold = inner.received[1]!;
    expect(hold.at - lastStep).toBeGreaterThanOrEqual(19);
    expect(Array.from(hold.action)).toEqual(Array.from(panda.holdAction()));
    expect(Array.from(hold.action)).toEqual(new Array(7).fill(0));
    await env.close();
  });

  it('with the table-top workspace box, keeps every link frame above the table top while driven down hard', async () => {
    const { env, panda } = await safePanda({ workspace: PANDA_TABLE_WORKSPACE });
    await env.reset({ seed: 6 });
    let lowest = Infinity;
    let shortened = 0;
    // Drive shoulder and elbow toward the table (joint 2 forward, joint 4 extended) for 200 steps.
    for (let t = 0; t < 200; t++) {
      const r = await env.step(Float32Array.of(0, 1, 0, 1, 0, 0, 0));
      shortened += r.info.safety?.hits['workspace'] ?? 0;
      const pts = panda.controlPoints(panda.jointPositions());
      for (let k = 2; k < pts.length; k += 3) lowest = Math.min(lowest, pts[k]!);
      if (r.terminated || r.truncated) await env.reset();
    }
    expect(shortened).toBeGreaterThan(0);
    // The box limits commands; the compliant arm coasts up to ~7 cm past them when driven down
    // at full speed, which is why the box sits 8 cm above the table: nothing reaches the table top.
    expect(lowest).toBeGreaterThan(0);
  });
});

import { Rng } from '../control/rng.js';
import { SafetyLimits } from '../control/safety/safety-limits.js';
import { unwrap } from '../control/wrappers/wrapper.js';
import { make } from '../sim/registry.js';
import type { PandaReach } from '../sim/tasks/panda-reach.js';
import { PANDA_TABLE_WORKSPACE } from '../sim/tasks/panda.js';

const STEPS = Number(process.env['SAFETY_FUZZ_STEPS'] ?? 100_000);
/** A joint counts as violating its limit when the simulator reports it this far past a bound (rad). */
const TOLERANCE = 0.005;

/**
 * Tier 0 fuzz: STEPS actions on PandaReach-v0 — uniform random, bang-bang (±1 held for 25–250
 * steps on every joint), and random extremes (each element ±1) — through SafetyLimits with its
 * default joint settings and the table-top workspace box (every link frame 8 cm above the table). Violations are measured from the simulator's joint state, not from the
 * filter's bookkeeping. The same stream without Tier 0 is reported for contrast.
 */
async function fuzz(withTier0: boolean): Promise<{ steps: number; violations: number; worstRad: number; limitHits: number; tableContactSteps: number }> {
  const inner = await make('PandaReach-v0', { timeLimit: 1000 });
  const panda = unwrap(inner) as PandaReach;
  const safe = new SafetyLimits(inner, panda, { workspace: PANDA_TABLE_WORKSPACE });
  const env = withTier0 ? safe : inner;
  const rng = new Rng(11);
  const { lower, upper } = panda.jointLimits;
  await env.reset({ seed: 0 });
  let violations = 0;
  let worst = 0;
  let hits = 0;
  let tableContacts = 0;
  let mode = 0;
  let hold = 0;
  let held = new Float32Array(7);
  for (let t = 0; t < STEPS; t++) {
    if (hold-- <= 0) {
      mode = rng.int(3);
      hold = 25 + rng.int(225);
      held = Float32Array.from({ length: 7 }, () => (rng.random() < 0.5 ? -1 : 1));
    }
    const action = mode === 0 ? Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1)) : mode === 1 ? held : Float32Array.from({ length: 7 }, () => (rng.random() < 0.5 ? -1 : 1));
    const r = await env.step(action);
    const hit = r.info.safety?.hits;
    if (hit) hits += (hit['position'] ?? 0) + (hit['velocity'] ?? 0) + (hit['workspace'] ?? 0);
    if (r.costs[1]) tableContacts++;
    const q = panda.jointPositions();
    let stepWorst = 0;
    for (let i = 0; i < 7; i++) stepWorst = Math.max(stepWorst, (lower[i] as number) - (q[i] as number), (q[i] as number) - (upper[i] as number));
    worst = Math.max(worst, stepWorst);
    if (stepWorst > TOLERANCE) violations++;
    if (r.terminated || r.truncated) await env.reset();
  }
  await env.close();
  return { steps: STEPS, violations, worstRad: worst, limitHits: hits, tableContactSteps: tableContacts };
}

export async function safetyBenchmark(json: boolean): Promise<unknown> {
  const tier0 = await fuzz(true);
  const raw = await fuzz(false);
  if (!json) {
    process.stdout.write(`Tier 0 fuzz on PandaReach-v0, ${tier0.steps} steps: ${tier0.violations} steps with a joint > ${TOLERANCE} rad past a limit (worst ${tier0.worstRad.toFixed(4)} rad, ${tier0.limitHits} limit hits corrected, ${tier0.tableContactSteps} steps touching the table)\n`);
    process.stdout.write(`without Tier 0: ${raw.violations} violating steps (worst ${raw.worstRad.toFixed(4)} rad), ${raw.tableContactSteps} steps touching the table\n`);
  }
  return { fuzz: { ...tier0, toleranceRad: TOLERANCE }, fuzzWithoutTier0: raw, runs: [] };
}

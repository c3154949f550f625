/**
 * PandaPush-v0 or -v1 run, episode by episode: `npx tsx bench/push-episodes.ts <run dir> [episodes]`.
 * Replays the run's newest checkpoint deterministically on the evaluation seeds (those of
 * `roborl eval` and the training evaluations) and prints, per episode, whether it succeeded, its
 * length, the cube's start / final / closest distance to the goal, how far the cube moved and
 * when it first moved, the TCP's closest approach to the cube and Tier 0's workspace hits — what
 * told a push policy that never touches the cube from one that pushes a few millimetres off line
 * (docs/benchmarks.md, PandaPush-v0 re-examined).
 */
import { loadRunPolicy, makeLearnerEnv } from '../experiment/setup.js';
import { seedAt } from '../control/rng.js';
import { EVALUATION_SEED } from '../policies/evaluate.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/push-episodes.ts <run dir> [episodes]');
const episodes = Number(process.argv[3] ?? 20);
if (!Number.isInteger(episodes) || episodes < 1) throw new RangeError(`Expected episodes to be a positive integer, got ${process.argv[3]}`);
const { config, policy, step } = await loadRunPolicy(dir);
if (!/^PandaPush-v[01]$/.test(config.env.id)) throw new Error(`${dir} trains ${config.env.id}, not PandaPush-v0 or -v1`);
const env = await makeLearnerEnv(config, undefined, { evaluation: true });
const cm = (m: number): string => (100 * m).toFixed(1);
let successes = 0;
process.stdout.write(`${dir}: checkpoint at step ${step}\n`);
for (let i = 0; i < episodes; i++) {
  policy.reset();
  let { obs } = await env.reset({ seed: seedAt(EVALUATION_SEED, i) });
  // Observation layout (tasks/panda-push.ts): cube xyz at 17, goal xy at 23, in metres in both versions.
  const start = [obs[17] as number, obs[18] as number];
  const goal0 = Math.hypot((obs[23] as number) - (start[0] as number), (obs[24] as number) - (start[1] as number));
  let closest = Infinity;
  let nearest = Infinity;
  let workspaceHits = 0;
  let firstMove = -1;
  let success = false;
  let final = goal0;
  let t = 0;
  for (; ; t++) {
    const r = await env.step(policy.act(obs));
    obs = r.obs;
    const metrics = r.info.metrics as { cubeToGoal: number; tcpToCube: number };
    final = metrics.cubeToGoal;
    closest = Math.min(closest, final);
    nearest = Math.min(nearest, metrics.tcpToCube);
    workspaceHits += (r.info.safety as { hits?: Record<string, number> } | undefined)?.hits?.['workspace'] ?? 0;
    if (firstMove < 0 && Math.hypot((obs[17] as number) - (start[0] as number), (obs[18] as number) - (start[1] as number)) > 0.005) firstMove = t;
    success = r.info.success === true;
    if (r.terminated || r.truncated) break;
  }
  if (success) successes++;
  const moved = Math.hypot((obs[17] as number) - (start[0] as number), (obs[18] as number) - (start[1] as number));
  process.stdout.write(`episode ${i}: ${success ? 'success' : 'failure'} in ${t + 1} steps; cube to goal ${cm(goal0)} → ${cm(final)} cm (closest ${cm(closest)}); cube moved ${cm(moved)} cm, first at step ${firstMove < 0 ? '—' : firstMove}; TCP to cube ≥ ${cm(nearest)} cm; workspace hits ${workspaceHits}\n`);
}
process.stdout.write(`success ${successes}/${episodes}\n`);
await env.close();

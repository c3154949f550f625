/**
 * Were a simulated person's takeovers needed? `npx tsx bench/hil-takeovers.ts <run dir> [episodes]`
 * on a run with `hil.device: simulated` (a `bench hil` run folder — kept under HIL_RUNS, printed as `runDir` — or a
 * `roborl train` run): its newest checkpoint's policy, sampled as in training, plays each episode
 * twice from the same seed and the same policy noise — alone (would it have succeeded?) and with
 * the run's person watching, their budget unlimited (when and why do they first take over, and
 * does the episode then succeed?). Success is the task's own, as in evaluation. HIL_PATIENCE
 * overrides the person's patience. Prints one line per episode and a JSON summary: takeovers in
 * episodes the policy would have won (and how many of those then failed) or lost (and how many of
 * those the person turned into successes) (docs/benchmarks.md, "Were the takeovers needed?").
 */
import type { Env } from '../control/env.js';
import { Rng } from '../control/rng.js';
import { findWrapper } from '../control/wrappers/wrapper.js';
import { validateConfig, type ExperimentConfig } from '../experiment/config.js';
import { loadRunConfig, makeLearnerEnv, policyCheckpoint, sacLearnerFromCheckpoint } from '../experiment/setup.js';
import { SimulatedHuman, type TakeoverReason } from '../hil/devices/simulated-human.js';
import { Intervention } from '../hil/intervention.js';
import { selectBackend } from '../policies/backend.js';
import { GaussianActor } from '../policies/sac/actor.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/hil-takeovers.ts <run dir> [episodes]');
const episodes = Number(process.argv[3] ?? 40);
if (!Number.isInteger(episodes) || episodes < 1) throw new RangeError(`Expected episodes to be a positive integer, got ${process.argv[3]}`);
const config = loadRunConfig(dir);
if (config.hil?.device !== 'simulated') throw new Error(`${dir}: not a run with a simulated person (hil.device: ${config.hil?.device ?? 'none'})`);
if (config.algo.kind !== 'sac') throw new Error(`${dir}: a SAC / RLPD run is needed, not ${config.algo.kind}`);
const patience = process.env['HIL_PATIENCE'] === undefined ? undefined : Number(process.env['HIL_PATIENCE']);
const { ckpt } = policyCheckpoint(dir, config, false);
await selectBackend('blas', { threads: 1 }).catch(() => selectBackend('auto'));

const { hil: _hil, ...withoutPerson } = config;
// Success is the task's own (a learned reward's verdict is not the measure: `evaluation`).
const alone = await makeLearnerEnv(validateConfig(withoutPerson, `${dir} without the person`), undefined, { evaluation: true });
// The person as in the run, never held by their budget: all of every step this script can play.
const { runSteps: _runSteps, ...simulated } = config.hil.simulated ?? {};
const allSteps = episodes * (alone.spec.maxEpisodeSteps ?? 10_000);
const watching: ExperimentConfig = validateConfig({ ...config, hil: { ...config.hil, simulated: { ...simulated, budget: 1, runSteps: allSteps, ...(patience === undefined ? {} : { patience }) } } }, `${dir} with the person watching`);
const withPerson = await makeLearnerEnv(watching, undefined, { human: true, evaluation: true });
const learner = sacLearnerFromCheckpoint(config, alone, ckpt);

interface Played { success: boolean; takeover: { t: number; reason: TakeoverReason } | null; humanSteps: number }

/** One episode from `seed`, the policy's noise drawn from `seed` too: the two plays agree until the person acts. */
async function play(env: Env, seed: number): Promise<Played> {
  const actor = new GaussianActor(learner.snapshot(), new Rng(seed));
  const person = findWrapper(env, Intervention)?.device;
  const before = person instanceof SimulatedHuman ? { ...person.stats.takeovers } : null;
  let { obs } = await env.reset({ seed });
  let takeover: Played['takeover'] = null;
  let humanSteps = 0;
  for (let t = 0; ; t++) {
    const r = await env.step(actor.act(obs, false));
    obs = r.obs;
    if (r.info.intervention?.engaged) {
      humanSteps++;
      if (!takeover && person instanceof SimulatedHuman && before) {
        const reason = (Object.keys(before) as TakeoverReason[]).find((k) => person.stats.takeovers[k] > before[k]);
        if (!reason) throw new Error(`seed ${seed}, step ${t}: the person has control but counted no takeover`);
        takeover = { t, reason };
      }
    }
    if (r.terminated || r.truncated) return { success: r.info.success === true, takeover, humanSteps };
  }
}

const counts = { wouldWin: 0, takeoversOnWins: 0, winsLost: 0, takeoversOnLosses: 0, lossesSaved: 0, lossesUntouched: 0 };
process.stdout.write(`${dir}: checkpoint at step ${ckpt.step}, ${episodes} episodes sampled as in training\n`);
for (let i = 0; i < episodes; i++) {
  const seed = 5000 + i;
  const a = await play(alone, seed);
  const b = await play(withPerson, seed);
  if (a.success) counts.wouldWin++;
  if (b.takeover && a.success) {
    counts.takeoversOnWins++;
    if (!b.success) counts.winsLost++;
  }
  if (b.takeover && !a.success) {
    counts.takeoversOnLosses++;
    if (b.success) counts.lossesSaved++;
  }
  if (!b.takeover && !a.success) counts.lossesUntouched++;
  process.stdout.write(`seed ${seed}: alone ${a.success ? 'success' : 'failure'}; person ${b.takeover ? `${b.takeover.reason} at step ${b.takeover.t}, in control ${b.humanSteps} steps of the episode, ${b.success ? 'success' : 'failure'}` : '—'}\n`);
}
process.stdout.write(`${JSON.stringify({ run: dir, step: ckpt.step, episodes, patience: watching.hil?.simulated?.patience ?? null, ...counts })}\n`);
learner.dispose();
await Promise.all([alone.close(), withPerson.close()]);

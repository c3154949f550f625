/**
 * How far a camera run's success classifier agrees with the task's own success:
 * `npx tsx bench/classifier-agreement.ts <camera run dir> <classifier file> [episodes] [--random]`.
 * Plays the run's policy (its newest checkpoint; `--random`: uniform random actions, to see
 * states the policy never visits) deterministically on the evaluation seeds, scores every
 * observation with the classifier (as `env.rewardClassifier` would: the frame of the camera it
 * looks at) and prints JSON — per step, precision and recall of the classifier's success against
 * the task's `info.success`; per episode, how many the classifier would have ended in a success
 * the task does not see (a false success teaches the learner a wrong goal) and how many of the
 * task's successes it confirmed by their last step.
 */
import { seedAt } from '../control/rng.js';
import { loadPixelRunPolicy, makePixelLearnerEnv } from '../experiment/pixels.js';
import { loadClassifier } from '../experiment/setup.js';
import { checkClassifierFits } from '../hil/reward-classifier.js';
import { selectBackend } from '../policies/backend.js';
import { EVALUATION_SEED } from '../policies/evaluate.js';
import { Rng } from '../control/rng.js';

const args = process.argv.slice(2).filter((a) => a !== '--random');
const random = process.argv.includes('--random');
const [dir, classifierPath, count] = args;
if (!dir || !classifierPath) throw new Error('usage: npx tsx bench/classifier-agreement.ts <camera run dir> <classifier file> [episodes] [--random]');
const episodes = Number(count ?? 40);
if (!Number.isInteger(episodes) || episodes < 1) throw new RangeError(`Expected episodes to be a positive integer, got ${count}`);
const { config, policy, step } = await loadPixelRunPolicy(dir);
await selectBackend(config.backend);
const classifier = loadClassifier(classifierPath);
const env = await makePixelLearnerEnv(config, undefined, { evaluation: true });
try {
  checkClassifierFits(classifier, env.spec);
} catch (err) {
  await env.close();
  throw new Error(`${classifierPath}: ${(err as Error).message}`);
}
const space = env.spec.actionSpace;
if (space.kind !== 'box') throw new Error('a Box action space is needed');
const rng = new Rng(11);
const steps = { truePositive: 0, falsePositive: 0, falseNegative: 0, trueNegative: 0 };
const perEpisode = { taskSuccesses: 0, confirmed: 0, falseSuccessEpisodes: 0, firedBeforeTaskSuccess: 0 };
try {
  for (let i = 0; i < episodes; i++) {
    policy.reset();
    let { obs } = await env.reset({ seed: seedAt(EVALUATION_SEED, i) });
    let falseSuccess = false;
    let early = false;
    for (;;) {
      const action = random ? Float32Array.from(space.low, () => rng.uniform(-1, 1)) : policy.act(obs);
      const r = await env.step(action);
      obs = r.obs;
      const task = r.info.success === true;
      const learned = classifier.success(obs);
      if (learned && task) steps.truePositive++;
      else if (learned) steps.falsePositive++;
      else if (task) steps.falseNegative++;
      else steps.trueNegative++;
      if (learned && !task) falseSuccess = true;
      const ended = r.terminated || r.truncated;
      if (ended) {
        if (task) perEpisode.taskSuccesses++;
        if (task && learned) perEpisode.confirmed++;
        if (falseSuccess) perEpisode.falseSuccessEpisodes++;
        if (falseSuccess && task) early = true;
        if (early) perEpisode.firedBeforeTaskSuccess++;
        break;
      }
    }
  }
} finally {
  await env.close();
}
const precision = steps.truePositive / Math.max(1, steps.truePositive + steps.falsePositive);
const recall = steps.truePositive / Math.max(1, steps.truePositive + steps.falseNegative);
process.stdout.write(`${JSON.stringify({ run: dir, checkpointStep: step, classifier: classifierPath, policy: random ? 'uniform random' : 'the run\'s (deterministic)', episodes, steps, stepPrecision: precision, stepRecall: recall, ...perEpisode, meta: classifier.meta })}\n`);

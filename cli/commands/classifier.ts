import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Observation } from '../../control/spaces.js';
import { allFrames, episodesFromDemos, RewardClassifier, sampleFrames, splitEpisodes, type DemoTable, type EncoderSpec, type LabelledEpisode } from '../../hil/reward-classifier.js';
import { selectBackend } from '../../policies/backend.js';
import { FrameReplay, isFrameReplayFile } from '../../policies/frame-replay.js';
import { ReplayBuffer, type FrameSource, type ReplaySource } from '../../policies/replay.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE } from '../usage.js';

/**
 * `roborl classifier train --demos A.demos[,B.demos…] --out FILE [--success-frames K]
 * [--negatives R] [--held-out F] [--min-precision P] [--epochs N] [--seed S]`: trains a success
 * classifier (HIL-SERL's learned reward) from demo tables — record-demos' kept episodes and the
 * person's success-button episodes: the last K frames of each episode that ended in success are
 * the positives. Episodes are split at random (by `--seed`): the threshold is picked for
 * precision on half the held-out episodes, and precision / recall are reported on the other half.
 * Demo tables with camera frames (record-demos on a config with `env.options.cameras`) train a
 * classifier that looks at one camera (`--camera`, default the tables' first) through a conv
 * encoder, as SERL's success classifiers do; a camera run then uses it as env.rewardClassifier.
 */
export async function classifierCommand(args: Args): Promise<void> {
  const [sub] = args.positionals;
  if (sub !== 'train') throw new UsageError(USAGE.classifier);
  allowFlags(args, 'classifier train', ['demos', 'out', 'success-frames', 'negatives', 'held-out', 'min-precision', 'epochs', 'seed', 'camera']);
  const paths = (stringFlag(args, 'demos') ?? '').split(',').filter(Boolean);
  const out = stringFlag(args, 'out');
  if (!paths.length || !out) throw new UsageError(USAGE.classifier);
  for (const p of paths) if (!existsSync(p)) throw new UsageError(`demo file ${p} not found`);
  const successFrames = intFlag(args, 'success-frames', 1, 1, 1000);
  const negatives = intFlag(args, 'negatives', 3, 1, 100);
  const heldOut = fractionFlag(args, 'held-out', 0.2);
  const minPrecision = fractionFlag(args, 'min-precision', 0.95);
  const seed = seedFlag(args, 0);
  const twice = paths.find((p, i) => paths.indexOf(p) !== i);
  if (twice) throw new UsageError(`--demos names ${twice} twice (its episodes would be in training and in the test)`);
  const { tables, encoder, frames } = demoTables(paths, stringFlag(args, 'camera'));
  // The task the demos' labels name (files from before the label name none).
  const envs = [...new Set(tables.flatMap((t) => (t.source ? [t.source.env] : [])))];
  if (envs.length > 1) throw new UsageError(`--demos holds episodes of ${envs.join(' and ')}: a classifier is trained for one task`);
  const envId = envs[0];
  await selectBackend('auto');
  const episodes = withSuccessFrames(episodesFromDemos<Observation>(tables), successFrames);
  let split: ReturnType<typeof splitEpisodes<LabelledEpisode<Observation>>>;
  try {
    split = splitEpisodes(episodes, heldOut, seed);
  } catch (err) {
    // Demos carry no success flag: an episode's success is its end (terminated). A task that runs
    // on to the time limit past a success (PandaPickCube-v0's dense reward) ends every episode
    // truncated, succeeded or not.
    const positives = episodes.filter((e) => e.labels.includes(1)).length;
    const hint = positives === 0 ? '; none of them ended in success (terminated): episodes that run on to the time limit past a success, as PandaPickCube-v0 with its dense reward, do not say whether they succeeded — record them with env.options.terminateOnSuccess: true (or reward: sparse), where the success button ends them as successes too' : '';
    throw new UsageError(`${(err as Error).message} (${episodes.length} episodes in ${paths.join(', ')}${hint})`);
  }
  const { train, threshold, test } = split;
  if (!test.some((e) => e.labels.includes(0))) throw new UsageError(`the ${test.length} test episode(s) have no non-success frame to measure precision on: record more episodes or raise --held-out`);
  const clf = RewardClassifier.train(sampleFrames(train, { negativesPerPositive: negatives, seed }), allFrames(threshold), { seed, minPrecision, epochs: intFlag(args, 'epochs', encoder.kind === 'conv' ? 60 : 200), encoder, ...(envId ? { envId } : {}), ...(frames ? { frames } : {}) });
  const pick = clf.meta.thresholdPick as { precision: number; recall: number; frames: number };
  const h = clf.test(allFrames(test), test.length);
  mkdirSync(dirname(out), { recursive: true });
  clf.save(out);
  process.stdout.write(
    `trained on ${train.length} episodes, threshold ${clf.threshold.toFixed(3)} picked on ${threshold.length} episodes (${pick.frames} frames); on ${test.length} unseen episodes (${h.frames} frames): precision ${h.precision.toFixed(3)}, recall ${h.recall.toFixed(3)}${h.precision < minPrecision ? ` — below the ${minPrecision} asked: record more episodes` : ''}\nwrote ${out} (use it with env.rewardClassifier in a config)\n`,
  );
  clf.dispose();
}

/**
 * The demo files, read as what they are — state tables, or tables with camera frames (not
 * mixed) — and the encoder that fits them: the state, or a conv encoder on one camera (16
 * filters, as the pixel configs' encoders; the state is left out: a success is what the camera
 * sees).
 */
function demoTables(paths: readonly string[], camera: string | undefined): { tables: (DemoTable<Observation> & { source?: ReplaySource })[]; encoder: EncoderSpec; frames?: FrameSource } {
  const withFrames = paths.filter((p) => isFrameReplayFile(p));
  if (withFrames.length === 0) {
    if (camera !== undefined) throw new UsageError(`--camera ${camera}: ${paths.join(', ')} hold no camera frames (record the demos with env.options.cameras)`);
    return { tables: paths.map((p) => ReplayBuffer.load(p)), encoder: { kind: 'state' } };
  }
  if (withFrames.length < paths.length) throw new UsageError(`--demos mixes tables with camera frames (${withFrames.join(', ')}) and without (${paths.filter((p) => !withFrames.includes(p)).join(', ')}): a classifier looks at one kind`);
  const tables = paths.map((p) => FrameReplay.load(p));
  const names = (t: FrameReplay): string[] => t.spec.cameras.map((c) => c.name);
  const name = camera ?? (names(tables[0] as FrameReplay)[0] as string);
  for (const [i, t] of tables.entries()) if (!names(t).includes(name)) throw new UsageError(`--camera ${name}: ${paths[i]} has camera${names(t).length > 1 ? 's' : ''} ${names(t).join(', ')}`);
  const shapes = new Set(tables.map((t) => JSON.stringify(t.spec.cameras.find((c) => c.name === name))));
  if (shapes.size > 1) throw new UsageError(`--camera ${name}: the demo files' "${name}" frames differ in size (${[...shapes].join(' vs ')})`);
  // The camera as the demos' labels hold it (renderer, pose, optics): the classifier keeps it, and a
  // camera config whose camera differs is refused. Files that disagree on it are not one camera.
  const labels = tables.map((t) => (t.source?.frames ? { renderer: t.source.frames.renderer, cameras: t.source.frames.cameras.filter((c) => (c as { name?: unknown } | null)?.name === name) } : null));
  if (new Set(labels.map((l) => JSON.stringify(l))).size > 1) throw new UsageError(`--camera ${name}: the demo files were drawn by different "${name}" cameras (or renderers): ${paths.join(', ')}`);
  const frames = labels[0]?.cameras.length === 1 ? labels[0] : undefined;
  return { tables, encoder: { kind: 'conv', camera: name, filters: 16 }, ...(frames ? { frames } : {}) };
}

/** Marks the last `k` frames of each successful episode as successes (a person holding the success state). */
function withSuccessFrames<O extends Observation>(episodes: LabelledEpisode<O>[], k: number): LabelledEpisode<O>[] {
  return episodes.map((e) => (e.labels.at(-1) === 1 ? { frames: e.frames, labels: e.frames.map((_, i) => (i >= e.frames.length - k ? 1 : 0)) } : e));
}

function fractionFlag(args: Args, name: string, dflt: number): number {
  const v = stringFlag(args, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new UsageError(`Expected --${name} to be a number in (0, 1), got \`${v}\``);
  return n;
}

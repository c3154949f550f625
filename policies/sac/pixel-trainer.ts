import type { Env } from '../../control/env.js';
import { Rng, type RngState } from '../../control/rng.js';
import { cameraList, sample, type DictObservation, type DictSpace } from '../../control/spaces.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadLatestCheckpoint, readCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { evaluatePolicy, EVALUATION_SEED, trainingEpisodeSeed, type EvalResult } from '../evaluate.js';
import { FrameReplay, type FrameReplaySpec } from '../frame-replay.js';
import type { MetricsLog } from '../metrics-log.js';
import { allocBatch, type Batch, type CameraShape } from '../replay.js';
import { isLinkLoss, RunLoop, Throughput, type TrainerProgress, type TrainerSchedule } from '../run-loop.js';
import { GaussianActor } from './actor.js';
import type { SacConfig } from './config.js';
import { SacLearner, type SacMetrics } from './sac.js';
import { learnerTransition } from './trainer.js';

export interface PixelTrainerOptions {
  /** Training env observing `{state, <camera>…}`: actions in [−1, 1], EpisodeStatistics outermost. */
  readonly env: Env<DictObservation>;
  /** A separate env instance for deterministic evaluation (same wrappers). */
  readonly evalEnv: Env<DictObservation>;
  /** Needs `encoder` (the conv encoder every camera goes through). */
  readonly config: SacConfig;
  readonly schedule: TrainerSchedule;
  readonly seed: number;
  readonly checkpointDir: string;
  /** Where the best evaluation's policy is kept (`<run>/best`; `roborl eval --best`). Default: not kept. */
  readonly bestDir?: string;
  readonly metrics: MetricsLog;
  /** Demonstrations with frames (`roborl record-demos` on a camera config), `config.demos.ratio` of every batch. */
  readonly demos?: FrameReplay;
  readonly onStep?: (p: TrainerProgress) => void;
  readonly log?: (line: string) => void;
}

/**
 * Loads `learner`'s encoders from another camera run (`encoder.init`): its run folder (the newest
 * checkpoint that verifies) or one checkpoint file. Returns a line for the log; throws naming the
 * path when it is missing, not a camera run's checkpoint, or its encoders do not fit.
 */
export function loadEncoderInit(learner: SacLearner, path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`encoder.init: ${path} does not exist (a camera run's folder or one of its checkpoints)`);
  if (!st.isDirectory() && !st.isFile()) throw new Error(`encoder.init: ${path} is neither a folder nor a file`);
  let ckpt: ReturnType<typeof readCheckpoint> | null;
  try {
    // A run folder, its checkpoints folder, or one checkpoint file.
    ckpt = st.isDirectory() ? (loadLatestCheckpoint(join(path, 'checkpoints')) ?? loadLatestCheckpoint(path)) : readCheckpoint(path);
  } catch (err) {
    throw new Error(`encoder.init: ${path}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (!ckpt) throw new Error(`encoder.init: ${path} has no checkpoints (a camera run's folder or one of its checkpoint files)`);
  const h = ckpt.header;
  const nLearner = h['learnerSections'];
  if (h['frames'] !== true || typeof nLearner !== 'number' || typeof h['learner'] !== 'object' || h['learner'] === null) throw new Error(`encoder.init: ${ckpt.path} is not a camera run's checkpoint`);
  learner.loadEncoders(h['learner'] as Record<string, unknown>, ckpt.sections.slice(0, nLearner), `encoder.init: ${ckpt.path}`);
  return `encoders from ${ckpt.path} (step ${ckpt.step})${learner.encodersFrozen ? ', frozen' : ''}`;
}

/** The cameras of a dict space as the replay and the learner describe them. */
export function cameraShapes(space: DictSpace): CameraShape[] {
  return cameraList(space).map((c) => ({ name: c.name, height: c.height, width: c.width, channels: c.channels }));
}

/**
 * SAC / RLPD from camera frames and state (SERL's pixel agent): {@link OffPolicyTrainer}'s loop
 * over dict observations — frames kept once in a {@link FrameReplay}, the learner's conv encoder
 * trained by the critic, demos mixed into every batch. Checkpoints hold the networks (encoders
 * included), the replay table with its frames, the RNG states and counters, so `--resume`
 * continues the same run. Safety multipliers and interventions are not supported here
 * (refused by the train command).
 */
export class PixelTrainer extends RunLoop {
  readonly learner: SacLearner;
  readonly replay: FrameReplay;
  private readonly actor: GaussianActor;
  private readonly actorRng: Rng;
  private readonly sampleRng: Rng;
  private readonly batches: Batch[];
  private readonly spec: FrameReplaySpec;
  private lastMetrics: SacMetrics | null = null;

  constructor(private readonly o: PixelTrainerOptions) {
    super(o.schedule, o.metrics, o.log);
    this.bestDir = o.bestDir ?? null;
    this.checkpointEnv = o.env; // its person's spent budget and counts go in each checkpoint
    const space = o.env.spec.actionSpace;
    if (space.kind !== 'box') throw new TypeError(`SAC needs a continuous (Box) action space; ${o.env.spec.id} has ${space.kind} actions`);
    const obsSpace = o.env.spec.observationSpace;
    const cameras = cameraShapes(obsSpace);
    const obsDim = obsSpace.state.low.length;
    const actDim = space.low.length;
    const root = new Rng(o.seed);
    this.learner = new SacLearner(o.config, obsDim, actDim, root.fork(), [], 0, undefined, cameras);
    this.actorRng = root.fork();
    this.sampleRng = root.fork();
    // One slot more per episode than transitions (each episode's last observation): room for the steps and their episodes' ends.
    const capacity = Math.min(o.config.bufferSize, o.schedule.steps) + 1 + Math.ceil(Math.min(o.config.bufferSize, o.schedule.steps) / 2);
    this.spec = { capacity, obsDim, actDim, costDim: o.env.spec.constraints.length, cameras };
    this.replay = new FrameReplay(this.spec);
    if (o.demos) {
      const d = o.demos.spec;
      const want = JSON.stringify({ obsDim, actDim, cameras });
      const got = JSON.stringify({ obsDim: d.obsDim, actDim: d.actDim, cameras: d.cameras });
      if (want !== got) throw new Error(`demo file holds ${got}; the env observes ${want} (record the demos with the same config's cameras)`);
    }
    this.batches = Array.from({ length: o.config.criticActorRatio }, () => allocBatch(this.spec, o.config.batchSize));
    this.actor = new GaussianActor(this.learner.snapshot(), this.actorRng);
  }

  /** Bytes the replay table holds per transition (frames once, with the episode ends); per slot while it is empty. */
  get bytesPerTransition(): number {
    return this.replay.size > 0 ? this.replay.bytesPerTransition() : FrameReplay.byteSize(this.replay.spec) / this.replay.spec.capacity;
  }

  /** Another camera run's encoders (`encoder.init`, see {@link loadEncoderInit}), the acting policy's too. Returns a line for the log. */
  loadEncoders(path: string): string {
    const line = loadEncoderInit(this.learner, path);
    this.actor.update(this.learner.snapshot());
    return line;
  }

  /** Loads the newest checkpoint, if any. Returns its step or null. */
  resume(): number | null {
    const ckpt = loadLatestCheckpoint(this.o.checkpointDir, (m) => this.o.log?.(m));
    if (!ckpt) return null;
    const h = ckpt.header;
    const nLearner = h['learnerSections'];
    const nReplay = h['replaySections'];
    if (typeof nLearner !== 'number' || typeof nReplay !== 'number' || h['frames'] !== true) throw new Error(`${ckpt.path}: not a camera run's checkpoint (no frame replay)`);
    this.learner.importState(h['learner'] as Record<string, unknown>, ckpt.sections.slice(0, nLearner));
    const { capacity: _c, ...expected } = this.spec;
    const loaded = FrameReplay.decode(h['replay'] as Record<string, unknown>, ckpt.sections.slice(nLearner, nLearner + nReplay), ckpt.path, expected);
    // A run extended with --steps keeps its table's size (a ring: the oldest transitions make room); frames cannot be re-laid cheaply.
    if (loaded.spec.capacity !== this.spec.capacity) this.o.log?.(`replay table kept at its ${loaded.spec.capacity} slots (this schedule would size it ${this.spec.capacity})`);
    (this as { replay: FrameReplay }).replay = loaded;
    this.replay.markEpisodeEnd();
    this.actorRng.setState(h['actorRng'] as RngState);
    this.sampleRng.setState(h['sampleRng'] as RngState);
    this.envSteps = ckpt.step;
    this.restoreCounters(h);
    this.actor.update(this.learner.snapshot());
    const dropped = this.o.metrics.truncateAfter(ckpt.step);
    this.o.log?.(`resumed from ${ckpt.path} at step ${ckpt.step} (${dropped} newer metric lines dropped; they will be recomputed)`);
    return ckpt.step;
  }

  /** The learner's part of a checkpoint (its header fields and sections first; `frames` marks a camera run's), alone in a best-policy file. */
  protected override policyState(): { header: Record<string, unknown>; sections: ArrayBufferView[] } {
    const learner = this.learner.exportState();
    return { header: { learner: learner.header, learnerSections: learner.sections.length, frames: true }, sections: learner.sections };
  }

  override checkpoint(): string {
    const policy = this.policyState();
    const replay = this.replay.exportState();
    return saveCheckpoint(
      this.o.checkpointDir,
      this.envSteps,
      {
        ...policy.header,
        replay: replay.header,
        replaySections: replay.sections.length,
        actorRng: this.actorRng.getState(),
        sampleRng: this.sampleRng.getState(),
        ...this.counters(),
      },
      [...policy.sections, ...replay.sections],
    );
  }

  /** Runs until `schedule.steps` env steps. */
  async run(): Promise<EvalResult> {
    const { env, config } = this.o;
    let { obs } = await env.reset({ seed: trainingEpisodeSeed(this.o.seed, this.episodes) });
    const throughput = new Throughput(this.learner.updates, this.envSteps);
    while (this.running()) {
      const warmup = this.envSteps < config.learningStarts;
      const action = warmup ? sample(env.spec.actionSpace, this.actorRng) : this.actor.act(obs, false);
      const r = await env.step(action);
      if (isLinkLoss(r)) {
        // The robot's safe stop (made-up reward, the last frame again): not stored; the step before it ends its episode in the table.
        this.linkLostSteps++;
        this.replay.markEpisodeEnd();
      } else this.replay.add(learnerTransition(obs, action, r, config, this.actor.version));
      obs = r.obs;
      this.envSteps++;
      if (r.terminated || r.truncated) {
        this.endEpisode(r.info.episode);
        obs = (await env.reset({ seed: trainingEpisodeSeed(this.o.seed, this.episodes) })).obs;
      }
      if (!warmup) {
        const t0 = performance.now();
        this.learn();
        throughput.learned(performance.now() - t0);
      }
      if (this.envSteps % this.schedule.logEvery === 0) {
        const rates = throughput.sample(this.learner.updates, this.envSteps);
        this.o.metrics.write({ type: 'train', step: this.envSteps, updates: this.learner.updates, ...rates, replayBytesPerTransition: this.bytesPerTransition, linkLostSteps: this.linkLostSteps, ...(this.lastMetrics ?? {}) });
      }
      await this.afterStep();
      const { updatesPerSec, envStepsPerSec } = throughput;
      this.o.onStep?.({ step: this.envSteps, episodes: this.episodes, updates: this.learner.updates, lastReturn: this.lastReturn, updatesPerSec, envStepsPerSec, lastCosts: this.lastCosts });
    }
    return this.finish();
  }

  /** `utd` learner updates, each on `criticActorRatio` fresh batches (a `demos.ratio` share from the demos). */
  private learn(): void {
    const { config } = this.o;
    for (let u = 0; u < config.utd; u++) {
      for (const batch of this.batches) {
        const demos = this.o.demos;
        const nDemo = demos && demos.size > 0 ? Math.round(batch.size * (config.demos?.ratio ?? 0)) : 0;
        this.replay.sampleInto(batch, 0, batch.size - nDemo, this.sampleRng, config.gamma, config.nStep);
        if (demos && nDemo > 0) demos.sampleInto(batch, batch.size - nDemo, nDemo, this.sampleRng, config.gamma, config.nStep);
      }
      this.lastMetrics = this.learner.update(this.batches);
      if (this.learner.updates % this.o.schedule.publishEvery === 0) this.actor.update(this.learner.snapshot());
    }
  }

  /** Deterministic evaluation (mean action) on the eval env. */
  override async evaluate(episodes = this.o.schedule.evalEpisodes): Promise<EvalResult> {
    const actor = new GaussianActor(this.learner.snapshot(), new Rng(0));
    return evaluatePolicy<DictObservation>(this.o.evalEnv, { reset: () => {}, act: (o) => actor.act(o, true) }, episodes, EVALUATION_SEED, { signal: this.stopSignal });
  }

  dispose(): void {
    this.learner.dispose();
  }
}

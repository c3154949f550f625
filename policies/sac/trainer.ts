import type { Env, EpisodeSummary, StepResult } from '../../control/env.js';
import { Rng, type RngState } from '../../control/rng.js';
import { sample, type Observation } from '../../control/spaces.js';
import type { Transition } from '../../control/transition.js';
import type { Batch } from '../replay.js';
import { allocBatch, ReplayBuffer } from '../replay.js';
import { loadLatestCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { episodic, evaluatePolicy, EVALUATION_SEED, trainingEpisodeSeed, type EvalResult } from '../evaluate.js';
import type { MetricsLog } from '../metrics-log.js';
import { isLinkLoss, RunLoop, Throughput, type TrainerProgress, type TrainerSchedule } from '../run-loop.js';
import { LagrangeMultiplier, type MultiplierState } from '../safe/lagrange.js';
import { GaussianActor } from './actor.js';
import type { SacConfig } from './config.js';
import { SacLearner, type SacMetrics } from './sac.js';

export interface TrainerOptions {
  /** Training env: actions in [−1, 1] (wrapped by RescaleAction), EpisodeStatistics outermost. */
  readonly env: Env;
  /** A separate env instance for deterministic evaluation (same wrappers). */
  readonly evalEnv: Env;
  readonly config: SacConfig;
  readonly schedule: TrainerSchedule;
  readonly seed: number;
  readonly checkpointDir: string;
  /** Where the best evaluation's policy is kept (`<run>/best`; `roborl eval --best`). Default: not kept. */
  readonly bestDir?: string;
  readonly metrics: MetricsLog;
  /** Demonstrations mixed into every batch (`config.demos.ratio` of it). */
  readonly demos?: ReplayBuffer;
  /**
   * Human in the loop (HIL-SERL): transitions the person controlled (`info.intervention.engaged`)
   * also go into the demo table, `upsample` times each; without demos, half of every batch then
   * comes from the interventions.
   */
  readonly interventions?: { readonly toDemos: boolean; readonly upsample: number };
  /** Called after every env step (progress display). */
  readonly onStep?: (p: TrainerProgress) => void;
  readonly log?: (line: string) => void;
}

/**
 * Off-policy training: an actor steps the env and writes transitions into the replay table
 * (the transition sink); the learner samples batches (half from demos when given) and updates;
 * the actor pulls versioned parameter snapshots every `publishEvery` updates. Both live in one
 * process here, but they meet only at those two seams.
 *
 * Checkpoints hold the networks, Adam moments, replay table, every RNG state and the counters,
 * so a resumed run continues the same experiment; only the episode in progress at the
 * checkpoint is restarted.
 */
export class OffPolicyTrainer extends RunLoop {
  readonly learner: SacLearner;
  readonly replay: ReplayBuffer;
  /** Demos, and (with interventions into demos) the person's transitions; null without either. */
  readonly demoTable: ReplayBuffer | null;
  /** Transitions the person controlled, so far. */
  humanTransitions = 0;
  private readonly actor: GaussianActor;
  /** Exploration noise and warm-up actions. */
  private readonly actorRng: Rng;
  /** Batch sampling. */
  private readonly sampleRng: Rng;
  private readonly batches: Batch[];
  protected lastMetrics: SacMetrics | null = null;
  /** SAC-Lagrangian: one multiplier per constrained cost, in the learner's cost-critic order. */
  readonly multipliers: LagrangeMultiplier[];
  /** Training-episode costs per multiplier since its last update (the J_c window). */
  private costWindows: number[][];

  constructor(protected readonly o: TrainerOptions) {
    super(o.schedule, o.metrics, o.log);
    this.checkpointEnv = o.env; // its person's spent budget and counts go in each checkpoint
    this.bestDir = o.bestDir ?? null;
    const space = o.env.spec.actionSpace;
    if (space.kind !== 'box') throw new TypeError(`SAC needs a continuous (Box) action space; ${o.env.spec.id} has ${space.kind} actions`);
    const obsDim = o.env.spec.observationSpace.low.length;
    const actDim = space.low.length;
    const root = new Rng(o.seed);
    const names = o.env.spec.constraints;
    const safe = o.config.safe;
    const constrained = safe ? Object.entries(safe.constraints) : [];
    for (const [name] of constrained) {
      if (!names.includes(name)) throw new Error(`algo.safe.constraints.${name}: ${o.env.spec.id} has no constraint "${name}" (its constraints: ${names.join(', ') || 'none'})`);
    }
    this.multipliers = safe ? constrained.map(([name, c]) => new LagrangeMultiplier(name, c.limit, safe)) : [];
    this.costWindows = this.multipliers.map(() => []);
    this.learner = new SacLearner(o.config, obsDim, actDim, root.fork(), constrained.map(([name]) => names.indexOf(name)), names.length);
    this.multipliers.forEach((m, i) => (this.learner.lambdas[i] = m.lambda));
    this.actorRng = root.fork();
    this.sampleRng = root.fork();
    const spec = { capacity: Math.min(o.config.bufferSize, o.schedule.steps), obsDim, actDim, costDim: o.env.spec.constraints.length };
    this.replay = new ReplayBuffer(spec);
    if (o.demos && (o.demos.spec.obsDim !== obsDim || o.demos.spec.actDim !== actDim)) {
      throw new Error(`demo file has obs ${o.demos.spec.obsDim}/action ${o.demos.spec.actDim}, the env ${obsDim}/${actDim}`);
    }
    this.batches = Array.from({ length: o.config.criticActorRatio }, () => allocBatch(spec, o.config.batchSize));
    const toDemos = o.interventions?.toDemos === true;
    const room = toDemos ? Math.min(o.config.bufferSize, o.schedule.steps * Math.max(1, o.interventions?.upsample ?? 1)) : 0;
    this.demoTable = o.demos ? (room ? o.demos.resized(o.demos.size + room) : o.demos) : room ? new ReplayBuffer({ ...spec, capacity: room }) : null;
    this.actor = new GaussianActor(this.learner.snapshot(), this.actorRng);
  }

  /** Loads the newest checkpoint in the checkpoint folder, if any. Returns its step or null. */
  resume(): number | null {
    const ckpt = loadLatestCheckpoint(this.o.checkpointDir, (m) => this.o.log?.(m));
    if (!ckpt) return null;
    const h = ckpt.header;
    const nLearner = h['learnerSections'] as number;
    this.learner.importState(h['learner'] as Record<string, unknown>, ckpt.sections.slice(0, nLearner));
    const nReplay = (h['replaySections'] as number | undefined) ?? ckpt.sections.length - nLearner;
    const loaded = ReplayBuffer.decode(h['replay'] as Record<string, unknown>, ckpt.sections.slice(nLearner, nLearner + nReplay), ckpt.path, this.replay.spec);
    // The person's transitions are part of the experiment: restored with the demos they joined.
    if (h['demoTable'] && this.demoTable) {
      const table = ReplayBuffer.decode(h['demoTable'] as Record<string, unknown>, ckpt.sections.slice(nLearner + nReplay), ckpt.path, this.demoTable.spec);
      (this as { demoTable: ReplayBuffer | null }).demoTable = table.spec.capacity === this.demoTable.spec.capacity ? table : table.resized(this.demoTable.spec.capacity);
      this.humanTransitions = (h['humanTransitions'] as number | undefined) ?? 0;
    }
    // A run resumed with more total steps gets the larger table it is now configured for.
    (this as { replay: ReplayBuffer }).replay = loaded.spec.capacity === this.replay.spec.capacity ? loaded : loaded.resized(this.replay.spec.capacity);
    // The episode in progress at the checkpoint is restarted: its last stored transition ends it.
    this.replay.markEpisodeEnd();
    this.actorRng.setState(h['actorRng'] as RngState);
    this.sampleRng.setState(h['sampleRng'] as RngState);
    this.envSteps = ckpt.step;
    this.restoreCounters(h);
    const saved = (h['multipliers'] ?? []) as { name: string; state: MultiplierState; window: number[] }[];
    if (saved.length !== this.multipliers.length || saved.some((s, i) => s.name !== this.multipliers[i]?.name)) {
      throw new Error(`checkpoint has multipliers for [${saved.map((s) => s.name)}], this run constrains [${this.multipliers.map((m) => m.name)}]`);
    }
    saved.forEach((s, i) => {
      (this.multipliers[i] as LagrangeMultiplier).restore(s.state);
      this.costWindows[i] = [...s.window];
      this.learner.lambdas[i] = (this.multipliers[i] as LagrangeMultiplier).lambda;
    });
    this.actor.update(this.learner.snapshot());
    this.restoreExtras(h);
    const dropped = this.o.metrics.truncateAfter(ckpt.step);
    this.o.log?.(`resumed from ${ckpt.path} at step ${ckpt.step} (${dropped} newer metric lines dropped; they will be recomputed)`);
    return ckpt.step;
  }

  override checkpoint(): string {
    const policy = this.policyState();
    const replayFile = this.replay.state();
    const demoFile = this.o.interventions?.toDemos && this.demoTable ? this.demoTable.state() : null;
    return saveCheckpoint(
      this.o.checkpointDir,
      this.envSteps,
      {
        ...policy.header,
        replay: replayFile.header,
        replaySections: replayFile.sections.length,
        ...(demoFile ? { demoTable: demoFile.header, humanTransitions: this.humanTransitions } : {}),
        actorRng: this.actorRng.getState(),
        sampleRng: this.sampleRng.getState(),
        ...this.counters(),
        multipliers: this.multipliers.map((m, i) => ({ name: m.name, state: m.state(), window: this.costWindows[i] })),
        ...this.checkpointExtras(),
      },
      [...policy.sections, ...replayFile.sections, ...(demoFile?.sections ?? [])],
    );
  }

  /** The learner's part of a checkpoint (its header fields and sections first), alone in a best-policy file. */
  protected override policyState(): { header: Record<string, unknown>; sections: ArrayBufferView[] } {
    const learner = this.learner.exportState();
    return { header: { learner: learner.header, learnerSections: learner.sections.length }, sections: learner.sections };
  }

  /** A constrained run's best policy meets every cost limit in its evaluation. */
  protected override eligibleForBest(e: EvalResult): boolean {
    return this.multipliers.every((m) => (e.costMeans[m.name] ?? 0) <= m.limit);
  }

  /** More checkpoint header fields (subclasses: the distributed learner's sequence numbers). */
  protected checkpointExtras(): Record<string, unknown> {
    return {};
  }

  /** Reads {@link checkpointExtras}' fields back on resume. */
  protected restoreExtras(_header: Record<string, unknown>): void {}

  /** Runs until `schedule.steps` env steps. */
  async run(): Promise<EvalResult> {
    const { env, config } = this.o;
    const schedule = this.schedule;
    let { obs } = await env.reset({ seed: trainingEpisodeSeed(this.o.seed, this.episodes) });
    const throughput = new Throughput(this.learner.updates, this.envSteps);
    while (this.running()) {
      const warmup = this.envSteps < config.learningStarts;
      const action = warmup ? sample(env.spec.actionSpace, this.actorRng) : this.actor.act(obs, false);
      const r = await env.step(action);
      if (isLinkLoss(r)) {
        // The robot's safe stop: not stored; the step before it ends its episode in the table.
        this.linkLostSteps++;
        this.replay.markEpisodeEnd();
      } else {
        const t = this.transition(obs, action, r);
        this.store(t, t.human === true);
      }
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
      if (this.envSteps % schedule.logEvery === 0) {
        const rates = throughput.sample(this.learner.updates, this.envSteps);
        this.o.metrics.write({ type: 'train', step: this.envSteps, updates: this.learner.updates, ...rates, linkLostSteps: this.linkLostSteps, ...(this.lastMetrics ?? {}) });
      }
      await this.afterStep();
      const { updatesPerSec, envStepsPerSec } = throughput;
      this.o.onStep?.({ step: this.envSteps, episodes: this.episodes, updates: this.learner.updates, lastReturn: this.lastReturn, updatesPerSec, envStepsPerSec, lastCosts: this.lastCosts, lambdas: this.multipliers.length ? this.lambdaRecord() : undefined, humanRate: this.lastHumanRate });
    }
    return this.finish();
  }

  /** The transition to learn from (see {@link learnerTransition}). */
  private transition(obs: Float32Array, action: Float32Array, r: StepResult): Transition {
    return learnerTransition(obs, action, r, this.o.config, this.actor.version);
  }

  /**
   * Multiplier updates: one every `window` training episodes, from the mean cost of those
   * episodes (an epoch, as in OmniSafe); episodes that began during warm-up do not count. Each episode counts once: a moving average updated
   * every episode would add each episode's cost `window` times over and overshoot λ.
   */
  protected override episodeExtras(ep: EpisodeSummary): Record<string, unknown> {
    if (!this.multipliers.length) return {};
    // An episode with warm-up (uniform random) actions says nothing about the policy's cost.
    if (this.envSteps - ep.length < this.o.config.learningStarts) return { lambdas: this.lambdaRecord(), warmup: true };
    const window = this.o.config.safe?.window ?? 1;
    this.multipliers.forEach((m, i) => {
      const w = this.costWindows[i] as number[];
      w.push(ep.costs[m.name] ?? 0);
      if (w.length < window) return;
      this.learner.lambdas[i] = m.update(w.reduce((a, b) => a + b, 0) / w.length);
      w.length = 0;
    });
    return { lambdas: this.lambdaRecord() };
  }

  private lambdaRecord(): Record<string, number> {
    return Object.fromEntries(this.multipliers.map((m) => [m.name, m.lambda]));
  }

  /**
   * Puts one transition in the replay table; one the person controlled also goes `upsample`
   * times into the demo table (HIL-SERL). Each copy stands alone (its n-step sum ends at itself,
   * still bootstrapping): the table's neighbours are other copies or other interventions, not
   * this episode's next step.
   */
  protected store(t: Transition, human: boolean): void {
    this.replay.add(t);
    if (!human) return;
    this.humanTransitions++;
    if (!this.o.interventions?.toDemos) return;
    for (let k = 0; k < this.o.interventions.upsample; k++) {
      (this.demoTable as ReplayBuffer).add(t);
      (this.demoTable as ReplayBuffer).markEpisodeEnd();
    }
  }

  /** Transitions one {@link learn} call samples: `utd` × `criticActorRatio` batches. */
  protected get rowsPerLearn(): number {
    const { config } = this.o;
    return config.utd * config.criticActorRatio * config.batchSize;
  }

  /** `utd` learner updates, each on `criticActorRatio` fresh batches. */
  protected learn(): void {
    const { config } = this.o;
    for (let u = 0; u < config.utd; u++) {
      for (const batch of this.batches) this.fillBatch(batch);
      this.lastMetrics = this.learner.update(this.batches);
      if (this.learner.updates % this.o.schedule.publishEvery === 0) this.actor.update(this.learner.snapshot());
    }
  }

  /** Symmetric sampling (RLPD): a `demos.ratio` share of the rows from the demo table. */
  private fillBatch(batch: Batch): void {
    const { config } = this.o;
    const demos = this.demoTable;
    const ratio = config.demos?.ratio ?? (this.o.interventions?.toDemos ? 0.5 : 0);
    const nDemo = demos && demos.size > 0 ? Math.round(batch.size * ratio) : 0;
    this.replay.sampleInto(batch, 0, batch.size - nDemo, this.sampleRng, config.gamma, config.nStep);
    if (nDemo > 0) (demos as ReplayBuffer).sampleInto(batch, batch.size - nDemo, nDemo, this.sampleRng, config.gamma, config.nStep);
  }

  /** Deterministic evaluation (mean action) on the eval env. */
  override async evaluate(episodes = this.o.schedule.evalEpisodes): Promise<EvalResult> {
    const actor = new GaussianActor(this.learner.snapshot(), new Rng(0));
    return evaluatePolicy(this.o.evalEnv, episodic((o) => actor.act(o, true)), episodes, EVALUATION_SEED, { signal: this.stopSignal });
  }

  dispose(): void {
    this.learner.dispose();
  }
}

/**
 * The transition a SAC learner stores for one step — in one process or sent by an actor. The
 * action is what ran: the person's when they were in control; when a safety layer changed it,
 * `learnFrom` picks the executed or the proposed one, and `correctionPenalty`·‖proposed −
 * executed‖² comes off the reward.
 */
export function learnerTransition<O extends Observation = Float32Array>(obs: O, action: Float32Array, r: StepResult<O>, config: Pick<SacConfig, 'learnFrom' | 'correctionPenalty'>, policyVersion: number): Transition<O> {
  const safety = r.info.safety;
  const human = r.info.intervention;
  // What ran: the person's action when they were in control, the hold on a hold step (e-stop, a
  // lost device) — as the intervention wrapper sent it, or as a safety layer below executed it.
  let stored = human ? human.sent : action;
  let reward = r.reward;
  if (safety) {
    // A hold is no proposal of the policy's: even `learnFrom: proposed` stores what ran.
    stored = config.learnFrom === 'proposed' && !human?.held ? safety.proposed : safety.executed;
    if (config.correctionPenalty > 0 && safety.intervened) {
      let sq = 0;
      for (let i = 0; i < safety.proposed.length; i++) sq += ((safety.proposed[i] as number) - (safety.executed[i] as number)) ** 2;
      reward -= config.correctionPenalty * sq;
    }
  }
  const engaged = human?.engaged ?? false;
  return { obs, action: stored, proposedAction: human?.policy ?? action, reward, costs: r.costs, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated, intervened: engaged || (safety?.intervened ?? false), human: engaged, policyVersion };
}

import { yielder } from '../../control/clock.js';
import type { Env, EpisodeSummary } from '../../control/env.js';
import { Rng } from '../../control/rng.js';
import { sample } from '../../control/spaces.js';
import type { Transition } from '../../control/transition.js';
import { trainingEpisodeSeed } from '../evaluate.js';
import { isLinkLoss } from '../run-loop.js';
import { GaussianActor } from '../sac/actor.js';
import type { SacConfig } from '../sac/config.js';
import { learnerTransition } from '../sac/trainer.js';
import { packTransitions } from './packing.js';
import { decodeSnapshot } from './snapshot-codec.js';
import type { ActorTransport, ParamsMessage } from './transport.js';

export interface ActorLoopOptions {
  /** Learner env stack (actions in [−1, 1], episode statistics outermost). */
  readonly env: Env;
  readonly transport: ActorTransport;
  /** Unique among the run's actors (≤ 64 bytes). */
  readonly actorId: string;
  /**
   * This incarnation of `actorId`: different every time an actor with this id starts (the
   * learner de-duplicates by (actor, epoch, seq), and sequence numbers restart at 0). Default 0.
   */
  readonly epoch?: number;
  /** Seeds exploration noise and this actor's episode resets (callers derive a new one per epoch, so a restarted actor does not replay its episodes). */
  readonly seed: number;
  /** What a stored transition holds where a safety layer changed the action (as the single-process trainer stores it). */
  readonly learning: Pick<SacConfig, 'learnFrom' | 'correctionPenalty'>;
  /** Transitions per message (an episode's end also sends). Default 32. */
  readonly sendEvery?: number;
  /** Stop after this many env steps (default: until `signal`). */
  readonly maxSteps?: number;
  readonly signal?: AbortSignal;
  /**
   * The env is a real robot (issue 22): a stop (`signal`, the run's end, `maxSteps`) ends the
   * loop after the step under way without resetting the env again (a reset moves the arm), and
   * what is pending is sent, unconditionally — the learner keeps every step the arm made. (The
   * actor's window must then never close: the learner of a robot run does not hold actors back.)
   */
  readonly realTime?: boolean;
  readonly onEpisode?: (ep: EpisodeSummary) => void;
}

/**
 * An actor: steps its env with the newest policy the learner published and streams the
 * transitions (packed, with policy version and sequence numbers) to the learner. Until the
 * learner's first update (parameters of version 0 or none), it acts uniformly at random — SAC's
 * warm-up, as the single-process trainer does for `learningStarts` steps.
 */
export async function runActor(o: ActorLoopOptions): Promise<{ steps: number; episodes: number; seq: number; linkLostSteps: number }> {
  const { env, transport } = o;
  const space = env.spec.actionSpace;
  if (space.kind !== 'box') throw new TypeError(`actors run continuous (Box) actions; ${env.spec.id} has ${space.kind} ones`);
  const dims = { obsDim: env.spec.observationSpace.low.length, actDim: space.low.length, costDim: env.spec.constraints.length };
  const rng = new Rng(o.seed);
  const noise = rng.fork();
  const sendEvery = o.sendEvery ?? 32;
  const pause = yielder(20);
  let actor: GaussianActor | null = null;
  /** The parameters in use: the transport replaces its newest only with newer ones (a restarted learner's generation wins over a higher version), so any change is adopted. */
  let adopted: ParamsMessage | null = null;
  let seq = 0;
  let steps = 0;
  let episodes = 0;
  let linkLostSteps = 0;
  let pending: Transition[] = [];
  let ended: EpisodeSummary[] = [];
  let batchEpisode = 0;
  // A robot's last steps are sent even after a stop (see `realTime`).
  const sendSignal = o.realTime ? undefined : o.signal;
  // `keep`: transitions held back for the next message. A full message keeps its newest one, so
  // a safe stop on the next step can still mark it as its episode's end (see below).
  const flush = async (keep = 0): Promise<void> => {
    const batch = pending.slice(0, pending.length - keep);
    if (!batch.length) return;
    const oldest = batch.reduce((v, t) => Math.min(v, t.policyVersion ?? 0), Infinity);
    const bytes = packTransitions({ actorId: o.actorId, epoch: o.epoch ?? 0, episodeId: batchEpisode, policyVersion: oldest, seq }, dims, batch, ended);
    await transport.send(bytes, batch.length, sendSignal);
    seq++;
    pending = pending.slice(batch.length);
    ended = [];
    batchEpisode = episodes;
  };
  const done = (): boolean => o.signal?.aborted === true || transport.finished() || (o.maxSteps !== undefined && steps >= o.maxSteps);
  let { obs } = await env.reset({ seed: trainingEpisodeSeed(o.seed, 0) });
  while (!done()) {
    const params = transport.params();
    if (params && params !== adopted) {
      adopted = params;
      const snapshot = decodeSnapshot(params.bytes);
      // GaussianActor.update takes only higher versions; a restarted learner's may be lower.
      if (actor && snapshot.version > actor.version) actor.update(snapshot);
      else actor = new GaussianActor(snapshot, noise);
    }
    const warmup = !actor || actor.version === 0;
    const action = warmup ? sample(space, rng) : (actor as GaussianActor).act(obs, false);
    const r = await env.step(action);
    if (isLinkLoss(r)) {
      // The robot's safe stop is no transition of the task (made-up reward, the last observation
      // again): not sent. The step before it (still pending: messages keep their newest) ends
      // the episode, so the learner's n-step sums stop there.
      linkLostSteps++;
      const last = pending.at(-1);
      if (last && !last.terminated && !last.truncated) pending[pending.length - 1] = { ...last, truncated: true };
    } else pending.push(learnerTransition(obs, action, r, o.learning, actor?.version ?? 0));
    steps++;
    obs = r.obs;
    if (r.terminated || r.truncated) {
      episodes++;
      if (r.info.episode) {
        ended.push(r.info.episode);
        o.onEpisode?.(r.info.episode);
      }
      await flush();
      if (o.realTime && done()) break;
      obs = (await env.reset({ seed: trainingEpisodeSeed(o.seed, episodes) })).obs;
    } else if (pending.length > sendEvery) await flush(1);
    await pause();
  }
  if (!transport.finished() && (o.realTime || !o.signal?.aborted)) await flush();
  return { steps, episodes, seq, linkLostSteps };
}

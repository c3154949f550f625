import type { EpisodeSummary } from '../../control/env.js';
import type { Transition } from '../../control/transition.js';

/** Who sent a batch of transitions, and from which policy. */
export interface BatchMeta {
  /** The actor's id (≤ 64 bytes of UTF-8). */
  readonly actorId: string;
  /** The actor's episode counter at the batch's first transition. */
  readonly episodeId: number;
  /** Version of the policy parameters that acted (the oldest in the batch). */
  readonly policyVersion: number;
  /**
   * The actor's incarnation: a number that differs every time an actor with this id (re)starts
   * (a Redis counter, or the learner's record for actor threads). Sequence numbers restart at 0
   * in every incarnation, so the learner's de-duplication key is (actor, epoch, seq). Default 0.
   */
  readonly epoch?: number;
  /** Per-incarnation sequence number, from 0: the learner applies each (actor, epoch, seq) once. */
  readonly seq: number;
}

export interface TransitionBatch extends BatchMeta {
  readonly epoch: number;
  readonly obsDim: number;
  readonly actDim: number;
  readonly costDim: number;
  readonly transitions: Transition[];
  /** Summaries of the episodes that ended within the batch, in order. */
  readonly episodes: EpisodeSummary[];
}

const MAGIC = 0x32545252; // "RRT2" little-endian (RRT1 had no epoch)
const HEADER = 4 + 4 * 8 + 1; // magic, episodeId, policyVersion, seq, count, obsDim, actDim, costDim, epoch, actorId length

export class CorruptBatchError extends Error {
  override readonly name = 'CorruptBatchError';
}

/**
 * Packs transitions into one binary frame: a little-endian header (magic "RRT2", episode id,
 * policy version, sequence number, count, obs/action/cost sizes, epoch, actor id), then per field one
 * float32 array for the whole batch (obs, action, reward, costs, next obs) and one byte of flags
 * per transition (terminated, truncated, intervened, human), then the summaries of episodes that ended
 * in the batch (u32 length + JSON; a few per batch). No JSON for the data: 1,000 Pendulum
 * transitions are 36 KB.
 */
export function packTransitions(meta: BatchMeta, dims: { obsDim: number; actDim: number; costDim: number }, transitions: readonly Transition[], episodes: readonly EpisodeSummary[] = []): Uint8Array {
  const id = new TextEncoder().encode(meta.actorId);
  if (id.length > 64) throw new RangeError(`actor id "${meta.actorId}" is longer than 64 bytes`);
  const n = transitions.length;
  const { obsDim, actDim, costDim } = dims;
  const floats = n * (2 * obsDim + actDim + 1 + costDim);
  const headerBytes = HEADER + id.length;
  const pad = (4 - (headerBytes % 4)) % 4;
  const summaries = new TextEncoder().encode(JSON.stringify(episodes));
  const out = new Uint8Array(headerBytes + pad + 4 * floats + n + 4 + summaries.length);
  const view = new DataView(out.buffer);
  const epoch = meta.epoch ?? 0;
  if (!(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff)) throw new RangeError(`Expected the batch \`epoch\` to be an integer in [0, 2³²), got \`${epoch}\``);
  [MAGIC, meta.episodeId, meta.policyVersion, meta.seq, n, obsDim, actDim, costDim, epoch].forEach((v, i) => view.setUint32(4 * i, v, true));
  out[HEADER - 1] = id.length;
  out.set(id, HEADER);
  const f = new Float32Array(out.buffer, headerBytes + pad, floats);
  let o = 0;
  const put = (v: Float32Array): void => {
    f.set(v, o);
    o += v.length;
  };
  for (const t of transitions) put(checked(t.obs, obsDim, 'obs'));
  for (const t of transitions) put(checked(t.action, actDim, 'action'));
  for (const t of transitions) put(Float32Array.of(t.reward));
  for (const t of transitions) put(checked(t.costs, costDim, 'costs'));
  for (const t of transitions) put(checked(t.nextObs, obsDim, 'nextObs'));
  const flags = out.subarray(headerBytes + pad + 4 * floats);
  transitions.forEach((t, i) => (flags[i] = (t.terminated ? 1 : 0) | (t.truncated ? 2 : 0) | (t.intervened ? 4 : 0) | (t.human ? 8 : 0)));
  const tail = headerBytes + pad + 4 * floats + n;
  view.setUint32(tail, summaries.length, true);
  out.set(summaries, tail + 4);
  return out;
}

/** Unpacks a frame written by {@link packTransitions}; anything malformed throws {@link CorruptBatchError}. */
export function unpackTransitions(bytes: Uint8Array): TransitionBatch {
  if (bytes.length < HEADER) throw new CorruptBatchError(`transition batch of ${bytes.length} bytes is shorter than its header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u = (i: number): number => view.getUint32(4 * i, true);
  if (u(0) !== MAGIC) throw new CorruptBatchError('not a transition batch (bad magic)');
  const [episodeId, policyVersion, seq, n, obsDim, actDim, costDim, epoch] = [u(1), u(2), u(3), u(4), u(5), u(6), u(7), u(8)] as [number, number, number, number, number, number, number, number];
  const idLength = bytes[HEADER - 1] as number;
  const headerBytes = HEADER + idLength;
  const pad = (4 - (headerBytes % 4)) % 4;
  const floats = n * (2 * obsDim + actDim + 1 + costDim);
  const tail = headerBytes + pad + 4 * floats + n;
  const summaryBytes = bytes.length >= tail + 4 ? view.getUint32(tail, true) : -1;
  if (obsDim < 1 || actDim < 1 || idLength > 64 || bytes.length !== tail + 4 + summaryBytes) throw new CorruptBatchError(`transition batch: ${bytes.length} bytes do not match its header (${n} transitions of obs ${obsDim}, action ${actDim}, costs ${costDim})`);
  const actorId = new TextDecoder().decode(bytes.subarray(HEADER, HEADER + idLength));
  // Copy into an aligned buffer (a Redis reply or a pooled buffer may sit at any offset).
  const f = new Float32Array(bytes.slice(headerBytes + pad, headerBytes + pad + 4 * floats).buffer);
  if (!f.every(Number.isFinite)) throw new CorruptBatchError(`transition batch from ${actorId} (seq ${seq}) holds non-finite numbers`);
  const flags = bytes.subarray(headerBytes + pad + 4 * floats, tail);
  let episodes: EpisodeSummary[];
  try {
    episodes = JSON.parse(new TextDecoder().decode(bytes.subarray(tail + 4))) as EpisodeSummary[];
  } catch {
    throw new CorruptBatchError(`transition batch from ${actorId} (seq ${seq}): episode summaries are not JSON`);
  }
  const bad = Array.isArray(episodes) ? episodes.map(summaryProblem).find((p) => p !== null) : 'not a list';
  if (bad !== undefined) throw new CorruptBatchError(`transition batch from ${actorId} (seq ${seq}): malformed episode summaries (${bad})`);
  const at = (start: number, size: number, i: number): Float32Array => f.subarray(start + i * size, start + (i + 1) * size);
  const offs = { obs: 0, action: n * obsDim, reward: n * (obsDim + actDim), costs: n * (obsDim + actDim + 1), nextObs: n * (obsDim + actDim + 1 + costDim) };
  const transitions: Transition[] = Array.from({ length: n }, (_, i) => ({
    obs: at(offs.obs, obsDim, i),
    action: at(offs.action, actDim, i),
    reward: f[offs.reward + i] as number,
    costs: at(offs.costs, costDim, i),
    nextObs: at(offs.nextObs, obsDim, i),
    terminated: ((flags[i] as number) & 1) !== 0,
    truncated: ((flags[i] as number) & 2) !== 0,
    intervened: ((flags[i] as number) & 4) !== 0,
    human: ((flags[i] as number) & 8) !== 0,
    policyVersion,
  }));
  return { actorId, epoch, episodeId, policyVersion, seq, obsDim, actDim, costDim, transitions, episodes };
}

function checked(v: Float32Array, size: number, what: string): Float32Array {
  if (v.length !== size) throw new RangeError(`transition ${what} has length ${v.length}, expected ${size}`);
  return v;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * What is wrong with one episode summary read off the wire, or null: every field the learner
 * reads is checked (a missing `costs` threw in the learner's episode bookkeeping; JSON's 1e400 is
 * Infinity), so a malformed summary is a corrupt batch, counted and skipped, never a crash.
 */
function summaryProblem(e: unknown): string | null {
  if (!isObject(e)) return 'not an object';
  if (!isFiniteNumber(e['return'])) return '`return` not a finite number';
  const length = e['length'];
  if (!isCount(length)) return '`length` not a count';
  for (const k of ['success', 'terminated', 'truncated']) if (typeof e[k] !== 'boolean') return `\`${k}\` not a boolean`;
  const costs = e['costs'];
  if (!isObject(costs) || !Object.values(costs).every(isFiniteNumber)) return '`costs` not a map of finite numbers';
  const lost = e['linkLostSteps'];
  if (lost !== undefined && !(isCount(lost) && lost <= length)) return '`linkLostSteps` not a count within `length`';
  const safety = e['safety'];
  if (safety !== undefined && !(isObject(safety) && isCount(safety['interventions']) && isFiniteNumber(safety['interventionRate']) && isObject(safety['hits']) && Object.values(safety['hits']).every(isCount))) return '`safety` malformed';
  const human = e['human'];
  if (human !== undefined && !(isObject(human) && isCount(human['steps']) && isCount(human['takeovers']) && isFiniteNumber(human['rate']))) return '`human` malformed';
  return null;
}

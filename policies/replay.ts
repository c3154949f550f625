import type { Rng } from '../control/rng.js';
import type { Transition, TransitionSink } from '../control/transition.js';
import type { EnvSpec } from '../control/env.js';
import { asFloat32, CorruptFileError, encodeBinary, readBinaryFile, writeFileAtomic } from './binary-file.js';

export interface ReplaySpec {
  readonly capacity: number;
  readonly obsDim: number;
  readonly actDim: number;
  /** Number of named constraint costs stored per transition. */
  readonly costDim: number;
  /** Camera frames per observation (image observations; see FrameReplay). None: state only. */
  readonly cameras?: readonly CameraShape[];
}

/** One camera's frame shape: height × width × channels uint8 (HWC). */
export interface CameraShape {
  readonly name: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** A training batch, row-major; `discount` already folds in γ^k and the terminal mask. */
export interface Batch {
  readonly size: number;
  readonly obs: Float32Array;
  readonly action: Float32Array;
  /** n-step discounted reward sum Σ_{k<n} γ^k r_{t+k}, cut at the episode end. */
  readonly reward: Float32Array;
  /** n-step discounted cost sums, size × costDim. */
  readonly costs: Float32Array;
  /** γ^n' · (1 − terminated), where n' ≤ n is the number of steps summed. */
  readonly discount: Float32Array;
  readonly nextObs: Float32Array;
  /** Image observations: one size × H × W × C uint8 array per camera (spec order) for obs and next obs; `obs` holds the state vectors. */
  readonly frames?: readonly Uint8Array[];
  readonly nextFrames?: readonly Uint8Array[];
}

const MAGIC = 'RRLREPL1';

/** Allocates an empty batch for `size` rows. */
export function allocBatch(spec: ReplaySpec, size: number): Batch {
  return {
    size,
    obs: new Float32Array(size * spec.obsDim),
    action: new Float32Array(size * spec.actDim),
    reward: new Float32Array(size),
    costs: new Float32Array(size * spec.costDim),
    discount: new Float32Array(size),
    nextObs: new Float32Array(size * spec.obsDim),
    ...(spec.cameras?.length ? { frames: spec.cameras.map((c) => new Uint8Array(size * c.height * c.width * c.channels)), nextFrames: spec.cameras.map((c) => new Uint8Array(size * c.height * c.width * c.channels)) } : {}),
  };
}

/**
 * A replay table: one preallocated Float32Array per field, a ring index, uniform sampling and
 * optional n-step returns. Memory is fixed at construction: {@link byteSize}.
 *
 * Bootstrapping: `terminated` stops bootstrapping (discount 0); `truncated` does not, but an
 * n-step sum never runs past the end of an episode nor past the newest stored transition.
 */
export class ReplayBuffer implements TransitionSink {
  readonly spec: ReplaySpec;
  private readonly obs: Float32Array;
  private readonly action: Float32Array;
  private readonly reward: Float32Array;
  private readonly costs: Float32Array;
  private readonly nextObs: Float32Array;
  /** Bit 0: terminated; bit 1: episode ended here (terminated or truncated); bit 2: intervened. */
  private readonly flags: Uint8Array;
  private ptr = 0;
  private count = 0;
  /**
   * Where the transitions came from, for demo files: the env id and observation names they were
   * recorded with, so a table recorded on another task version of the same shape (PandaPush-v0's
   * metres against v1's decimetres) is refused instead of mixed in. Saved in the header; absent
   * in tables written before it existed.
   */
  source: ReplaySource | undefined;

  constructor(spec: ReplaySpec) {
    for (const k of ['capacity', 'obsDim', 'actDim'] as const) {
      if (!Number.isInteger(spec[k]) || spec[k] < 1) throw new RangeError(`Expected replay \`${k}\` to be a positive integer, got \`${spec[k]}\``);
    }
    if (!Number.isInteger(spec.costDim) || spec.costDim < 0) throw new RangeError(`Expected replay \`costDim\` to be a non-negative integer, got \`${spec.costDim}\``);
    this.spec = { ...spec };
    const n = spec.capacity;
    this.obs = new Float32Array(n * spec.obsDim);
    this.action = new Float32Array(n * spec.actDim);
    this.reward = new Float32Array(n);
    this.costs = new Float32Array(n * spec.costDim);
    this.nextObs = new Float32Array(n * spec.obsDim);
    this.flags = new Uint8Array(n);
  }

  /** Bytes held by the table's arrays. */
  static byteSize(spec: ReplaySpec): number {
    return spec.capacity * (4 * (2 * spec.obsDim + spec.actDim + 1 + spec.costDim) + 1);
  }

  get size(): number {
    return this.count;
  }

  /** Appends one transition, overwriting the oldest when full. Rejects malformed input. */
  add(t: Transition): void {
    const { obsDim, actDim, costDim } = this.spec;
    checkVector('obs', t.obs, obsDim);
    checkVector('nextObs', t.nextObs, obsDim);
    checkVector('action', t.action, actDim);
    checkVector('costs', t.costs, costDim);
    if (!Number.isFinite(t.reward)) throw new RangeError(`Replay: reward is ${t.reward}; transitions must be finite`);
    const i = this.ptr;
    this.obs.set(t.obs, i * obsDim);
    this.nextObs.set(t.nextObs, i * obsDim);
    this.action.set(t.action, i * actDim);
    this.costs.set(t.costs, i * costDim);
    this.reward[i] = t.reward;
    this.flags[i] = (t.terminated ? 1 : 0) | (t.terminated || t.truncated ? 2 : 0) | (t.intervened ? 4 : 0);
    this.ptr = (i + 1) % this.spec.capacity;
    this.count = Math.min(this.count + 1, this.spec.capacity);
  }

  /**
   * Marks the newest transition as the end of its episode (truncated: it still bootstraps from
   * its next observation). A run resumed mid-episode restarts that episode, so the interrupted
   * episode's last transition must stop n-step sums (else they run into the next episode's
   * rewards and bootstrap from its states).
   */
  markEpisodeEnd(): void {
    if (this.count === 0) return;
    const last = (this.ptr - 1 + this.spec.capacity) % this.spec.capacity;
    this.flags[last] = (this.flags[last] as number) | 2;
  }

  /**
   * Fills rows [offset, offset + count) of `batch` with uniformly sampled n-step transitions.
   * Throws if the table is empty.
   */
  sampleInto(batch: Batch, offset: number, count: number, rng: Rng, gamma: number, nStep = 1): void {
    if (this.count === 0) throw new Error('Replay: cannot sample from an empty table');
    for (let r = 0; r < count; r++) this.writeRow(batch, offset + r, rng.int(this.count), gamma, nStep);
  }

  /** Writes the n-step transition starting at logical index `start` (0 = oldest) into row `row`. */
  writeRow(batch: Batch, row: number, start: number, gamma: number, nStep: number): void {
    const { obsDim, actDim, costDim, capacity } = this.spec;
    const oldest = (this.ptr - this.count + capacity) % capacity;
    const first = (oldest + start) % capacity;
    let reward = 0;
    let scale = 1;
    let last = first;
    batch.costs.fill(0, row * costDim, (row + 1) * costDim);
    for (let k = 0; k < nStep && start + k < this.count; k++) {
      const j = (first + k) % capacity;
      last = j;
      reward += scale * (this.reward[j] as number);
      for (let c = 0; c < costDim; c++) batch.costs[row * costDim + c] = (batch.costs[row * costDim + c] as number) + scale * (this.costs[j * costDim + c] as number);
      scale *= gamma;
      if ((this.flags[j] as number) & 2) break; // episode ended at j
    }
    batch.obs.set(this.obs.subarray(first * obsDim, (first + 1) * obsDim), row * obsDim);
    batch.action.set(this.action.subarray(first * actDim, (first + 1) * actDim), row * actDim);
    batch.nextObs.set(this.nextObs.subarray(last * obsDim, (last + 1) * obsDim), row * obsDim);
    batch.reward[row] = reward;
    batch.discount[row] = (this.flags[last] as number) & 1 ? 0 : scale;
  }

  /**
   * The stored transitions grouped into episodes, oldest first (an episode ends at a transition
   * marked terminated, truncated or ended; a trailing unfinished one is included). Observations
   * are views into the table, valid until it is written again.
   */
  *episodes(): Generator<{ obs: Float32Array; nextObs: Float32Array; terminated: boolean }[]> {
    const { obsDim, capacity } = this.spec;
    const oldest = (this.ptr - this.count + capacity) % capacity;
    let episode: { obs: Float32Array; nextObs: Float32Array; terminated: boolean }[] = [];
    for (let k = 0; k < this.count; k++) {
      const j = (oldest + k) % capacity;
      const flags = this.flags[j] as number;
      episode.push({ obs: this.obs.subarray(j * obsDim, (j + 1) * obsDim), nextObs: this.nextObs.subarray(j * obsDim, (j + 1) * obsDim), terminated: (flags & 1) !== 0 });
      if (flags & 2) {
        yield episode;
        episode = [];
      }
    }
    if (episode.length) yield episode;
  }

  /** A copy with another capacity, holding the newest `min(size, capacity)` transitions in order. */
  resized(capacity: number): ReplayBuffer {
    const out = new ReplayBuffer({ ...this.spec, capacity });
    const { obsDim, actDim, costDim } = this.spec;
    const keep = Math.min(this.count, capacity);
    const oldest = (this.ptr - this.count + this.spec.capacity) % this.spec.capacity;
    for (let k = this.count - keep; k < this.count; k++) {
      const j = (oldest + k) % this.spec.capacity;
      const i = out.ptr;
      out.obs.set(this.obs.subarray(j * obsDim, (j + 1) * obsDim), i * obsDim);
      out.nextObs.set(this.nextObs.subarray(j * obsDim, (j + 1) * obsDim), i * obsDim);
      out.action.set(this.action.subarray(j * actDim, (j + 1) * actDim), i * actDim);
      out.costs.set(this.costs.subarray(j * costDim, (j + 1) * costDim), i * costDim);
      out.reward[i] = this.reward[j] as number;
      out.flags[i] = this.flags[j] as number;
      out.ptr = (i + 1) % capacity;
      out.count = Math.min(out.count + 1, capacity);
    }
    return out;
  }

  /** Writes the table to `path` atomically, with a header and CRC-32. */
  save(path: string): void {
    writeFileAtomic(path, this.encode());
  }

  encode(): Uint8Array {
    const { header, sections } = this.state();
    return encodeBinary(MAGIC, header, sections);
  }

  /** Header and arrays (views, not copies) — what {@link decode} restores; used to embed the table in checkpoints. */
  state(): { header: Record<string, unknown>; sections: ArrayBufferView[] } {
    return { header: { spec: this.spec, ptr: this.ptr, count: this.count, ...(this.source ? { source: this.source } : {}) }, sections: [this.obs, this.action, this.reward, this.costs, this.nextObs, this.flags] };
  }

  /** Loads a table saved by {@link save}; a corrupt or mismatched file throws before anything is built. */
  static load(path: string, expected?: Omit<ReplaySpec, 'capacity'>): ReplayBuffer {
    const file = readBinaryFile(path, MAGIC);
    return ReplayBuffer.decode(file.header, file.sections, path, expected);
  }

  static decode(header: Record<string, unknown>, sections: Uint8Array[], what: string, expected?: Omit<ReplaySpec, 'capacity'>): ReplayBuffer {
    const spec = header['spec'] as ReplaySpec | undefined;
    const ptr = header['ptr'];
    const count = header['count'];
    if (!spec || typeof ptr !== 'number' || typeof count !== 'number' || sections.length !== 6) throw new CorruptFileError(`${what}: not a replay table header`);
    if (expected && (expected.obsDim !== spec.obsDim || expected.actDim !== spec.actDim || expected.costDim !== spec.costDim)) {
      throw new Error(`${what}: replay table has obs ${spec.obsDim}, action ${spec.actDim}, costs ${spec.costDim}; expected obs ${expected.obsDim}, action ${expected.actDim}, costs ${expected.costDim}`);
    }
    const buf = new ReplayBuffer(spec);
    const sizes = [buf.obs.byteLength, buf.action.byteLength, buf.reward.byteLength, buf.costs.byteLength, buf.nextObs.byteLength, buf.flags.byteLength];
    sections.forEach((s, i) => {
      if (s.byteLength !== sizes[i]) throw new CorruptFileError(`${what}: section ${i} has ${s.byteLength} bytes, expected ${sizes[i]}`);
    });
    if (!(count >= 0 && count <= spec.capacity && ptr >= 0 && ptr < spec.capacity)) throw new CorruptFileError(`${what}: ptr/count out of range`);
    buf.obs.set(asFloat32(sections[0] as Uint8Array));
    buf.action.set(asFloat32(sections[1] as Uint8Array));
    buf.reward.set(asFloat32(sections[2] as Uint8Array));
    buf.costs.set(asFloat32(sections[3] as Uint8Array));
    buf.nextObs.set(asFloat32(sections[4] as Uint8Array));
    buf.flags.set(sections[5] as Uint8Array);
    buf.ptr = ptr;
    buf.count = count;
    buf.source = header['source'] === undefined ? undefined : checkSource(header['source'], what);
    return buf;
  }
}

/** The replay dims of an env's transitions: its vector observation, action (1 for a discrete one) and costs. */
export function replayDims(spec: EnvSpec): Omit<ReplaySpec, 'capacity'> {
  const space = spec.actionSpace;
  return { obsDim: spec.observationSpace.low.length, actDim: space.kind === 'box' ? space.low.length : 1, costDim: spec.constraints.length };
}

/** A table's provenance ({@link ReplayBuffer.source}). */
export interface ReplaySource {
  readonly env: string;
  readonly observationNames?: readonly string[];
  /**
   * Tables with camera frames: the version of the renderer that drew them and the cameras (their
   * resolved configs, JSON data) they were drawn with — frames from another camera pose or
   * another drawing of the scene look like the same task to every check but this one.
   */
  readonly frames?: FrameSource;
  /**
   * What the transitions were recorded under ({@link RecordedWith}): a reward mode, a success hold,
   * an action frame or a reward classifier changes rewards, ends or actions while the shapes stay
   * the same. Absent in older files.
   */
  readonly recordedWith?: RecordedWith;
  /**
   * A scripted expert's recording: the episodes kept and the starts they came from (`all`,
   * `spread` or `central:S`; `roborl record-demos --starts`), checked against a config's
   * `algo.demos.episodes` / `starts` where it states them. Absent in older files and in a person's.
   */
  readonly expert?: ExpertRecording;
}

/** See {@link ReplaySource.expert}. */
export interface ExpertRecording {
  readonly episodes: number;
  readonly starts: string;
}

/** The recording config's say in a demo file's transitions (experiment/setup.ts `recordedWithOf`). */
export interface RecordedWith {
  /** `env.options` as the config wrote them, but the observation's (`cameras`, `state`) and the `engine`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** `env.rewardClassifier` (a path), or null. */
  readonly rewardClassifier: string | null;
  /** The classifier file's SHA-256 (hex) when it was there: a classifier trained again at the same path is another reward. */
  readonly rewardClassifierSha256?: string;
  /**
   * The safety layers of the recording's stack (experiment/setup.ts `recordedWithOf`): Tier 0's
   * limits (`false` where none ran) and the shield, which filter the actions the table holds, and
   * the named constraints' expressions behind its cost columns. Absent in labels written before
   * it was recorded.
   */
  readonly safety?: { readonly limits: unknown; readonly shield: boolean; readonly constraints: readonly { readonly name: string; readonly cost: string }[] };
}

/** What drew a table's camera frames (see {@link ReplaySource.frames}). */
export interface FrameSource {
  readonly renderer: number;
  readonly cameras: readonly unknown[];
}

/** A header's `source`, checked as data: a string id and, if present, a list of strings and a frame label. */
export function checkSource(raw: unknown, what: string): ReplaySource {
  const o = raw as { env?: unknown; observationNames?: unknown; frames?: unknown; recordedWith?: unknown; expert?: unknown } | null;
  const names = o?.observationNames;
  const ok = typeof o === 'object' && o !== null && !Array.isArray(o) && typeof o.env === 'string' && o.env.length <= 200 && (names === undefined || (Array.isArray(names) && names.length <= 1_000_000 && names.every((n) => typeof n === 'string' && n.length <= 200)));
  if (!ok) throw new CorruptFileError(`${what}: the header's \`source\` is not an env id with observation names`);
  const f = o.frames as { renderer?: unknown; cameras?: unknown } | undefined;
  // A camera config is a few levels deep (camera → pose → position): deeper is not one, and would only recurse.
  const framesOk = f === undefined || (typeof f === 'object' && f !== null && !Array.isArray(f) && Number.isSafeInteger(f.renderer) && (f.renderer as number) >= 1 && Array.isArray(f.cameras) && f.cameras.length <= 64 && f.cameras.every((c) => shallowJson(c, 4)));
  if (!framesOk) throw new CorruptFileError(`${what}: the header's \`source.frames\` is not a renderer version with a list of cameras`);
  const t = o.recordedWith as { options?: unknown; rewardClassifier?: unknown; rewardClassifierSha256?: unknown; safety?: unknown } | undefined;
  // Options are a few levels deep (action → frame): deeper is not an env option.
  const recordedOk = t === undefined || (isRecord(t) && isRecord(t.options) && shallowJson(t.options, 6) && (t.rewardClassifier === null || (typeof t.rewardClassifier === 'string' && t.rewardClassifier.length <= 4096)) && (t.rewardClassifierSha256 === undefined || (typeof t.rewardClassifierSha256 === 'string' && /^[0-9a-f]{64}$/.test(t.rewardClassifierSha256))) && (t.safety === undefined || safetyLabelOk(t.safety)));
  if (!recordedOk) throw new CorruptFileError(`${what}: the header's \`source.recordedWith\` is not the env options, reward classifier and safety section of a config`);
  const e = o.expert as { episodes?: unknown; starts?: unknown } | undefined;
  const expertOk = e === undefined || (isRecord(e) && Number.isSafeInteger(e.episodes) && (e.episodes as number) >= 1 && typeof e.starts === 'string' && e.starts.length <= 64);
  if (!expertOk) throw new CorruptFileError(`${what}: the header's \`source.expert\` is not a count of episodes and the starts they came from`);
  return {
    env: o.env as string,
    ...(names === undefined ? {} : { observationNames: [...(names as string[])] }),
    ...(f === undefined ? {} : { frames: { renderer: f.renderer as number, cameras: JSON.parse(JSON.stringify(f.cameras)) as unknown[] } }),
    ...(t === undefined ? {} : { recordedWith: JSON.parse(JSON.stringify({ options: t.options, rewardClassifier: t.rewardClassifier, ...(t.rewardClassifierSha256 === undefined ? {} : { rewardClassifierSha256: t.rewardClassifierSha256 }), ...(t.safety === undefined ? {} : { safety: safetyLabel(t.safety) }) })) as RecordedWith }),
    ...(e === undefined ? {} : { expert: { episodes: e.episodes as number, starts: e.starts as string } }),
  };
}

/** A JSON object (not null, not an array). */
function isRecord(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A label's `safety` as data: limits (an object of a few levels, or false), a boolean shield, constraints as names and expressions. */
function safetyLabelOk(v: unknown): boolean {
  if (!isRecord(v)) return false;
  const o = v as { limits?: unknown; shield?: unknown; constraints?: unknown };
  const limitsOk = o.limits === false || (isRecord(o.limits) && shallowJson(o.limits, 2));
  const text = (x: unknown): boolean => typeof x === 'string' && x.length <= 4096;
  const constraintsOk = Array.isArray(o.constraints) && o.constraints.length <= 1000 && o.constraints.every((c: unknown) => typeof c === 'object' && c !== null && text((c as { name?: unknown }).name) && text((c as { cost?: unknown }).cost));
  return limitsOk && typeof o.shield === 'boolean' && constraintsOk;
}

/** The fields of a checked `safety` label this version compares (others are dropped, as unknown label fields are). */
function safetyLabel(v: unknown): RecordedWith['safety'] {
  const o = v as { limits: unknown; shield: boolean; constraints: { name: string; cost: string }[] };
  return { limits: o.limits, shield: o.shield, constraints: o.constraints.map(({ name, cost }) => ({ name, cost })) };
}

/** JSON data (as JSON.parse gives) nested at most `depth` levels below `v`, with at most 10,000 entries in each object or array. */
function shallowJson(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (depth === 0) return false;
  const values = Array.isArray(v) ? v : Object.values(v);
  return values.length <= 10_000 && values.every((x) => shallowJson(x, depth - 1));
}

function checkVector(name: string, v: Float32Array, n: number): void {
  if (!(v instanceof Float32Array) || v.length !== n) throw new RangeError(`Replay: ${name} must be a Float32Array of length ${n}, got ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(v[i] as number)) throw new RangeError(`Replay: ${name}[${i}] is ${v[i]}; transitions must be finite`);
}

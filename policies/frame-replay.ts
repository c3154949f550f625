import { closeSync, openSync, readSync } from 'node:fs';
import type { Rng } from '../control/rng.js';
import type { DictObservation } from '../control/spaces.js';
import type { Transition, TransitionSink } from '../control/transition.js';
import { asFloat32, CorruptFileError, encodeBinary, readBinaryFile, writeFileAtomic } from './binary-file.js';
import { checkSource, type Batch, type CameraShape, type ReplaySource, type ReplaySpec } from './replay.js';

const MAGIC = 'RRLFRAM1';

/** Whether the file at `path` starts as a frame replay table does (a demo file with camera frames); false if it cannot be read. */
export function isFrameReplayFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(MAGIC.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === MAGIC;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
/** Slot flags. */
const TERMINATED = 1;
const ENDED = 2;
const INTERVENED = 4;
/** The slot starts a transition: it holds the action taken from its observation. */
const ACTED = 8;
/** The slot is an episode's last observation: no transition continues from it. */
const FINAL = 16;

/** A replay spec with at least one camera. */
export interface FrameReplaySpec extends ReplaySpec {
  readonly cameras: readonly CameraShape[];
}

/**
 * A replay table for image observations that stores every frame once. Slots hold observations in
 * the order the env produced them — state, one frame per camera — and the action, reward and
 * costs taken from them; transition k is (slot k, its action, slot k + 1). A transition's next
 * observation is therefore the following transition's observation, not a second copy (as DrQ's
 * and SERL's memory-efficient buffers do): per transition one frame set plus one more per
 * episode (its final observation), about (1 + 1/episode length) frames instead of 2.
 *
 * `capacity` counts slots. Sampling is uniform over slots that start a transition. n-step sums
 * and bootstrapping follow {@link ReplayBuffer}'s rules. Memory is fixed at construction:
 * {@link byteSize}.
 */
export class FrameReplay implements TransitionSink<DictObservation> {
  readonly spec: FrameReplaySpec;
  private readonly state: Float32Array;
  private readonly action: Float32Array;
  private readonly reward: Float32Array;
  private readonly costs: Float32Array;
  private readonly flags: Uint8Array;
  private readonly frames: Uint8Array[];
  private readonly frameBytes: number[];
  private ptr = 0;
  private count = 0;
  private transitions = 0;
  /** Where a demo file's transitions came from (env id, state entry names), as {@link ReplayBuffer.source}: saved in the header, absent in older files. */
  source: ReplaySource | undefined;

  constructor(spec: FrameReplaySpec) {
    for (const k of ['capacity', 'obsDim', 'actDim'] as const) {
      if (!Number.isInteger(spec[k]) || spec[k] < 1) throw new RangeError(`Expected replay \`${k}\` to be a positive integer, got \`${spec[k]}\``);
    }
    if (spec.capacity < 2) throw new RangeError(`Expected a frame replay \`capacity\` of at least 2 slots, got ${spec.capacity}`);
    if (!Number.isInteger(spec.costDim) || spec.costDim < 0) throw new RangeError(`Expected replay \`costDim\` to be a non-negative integer, got \`${spec.costDim}\``);
    if (!spec.cameras.length) throw new RangeError('A frame replay needs at least one camera (use ReplayBuffer for state observations)');
    this.spec = { ...spec, cameras: spec.cameras.map((c) => ({ name: c.name, height: c.height, width: c.width, channels: c.channels })) };
    const n = spec.capacity;
    this.state = new Float32Array(n * spec.obsDim);
    this.action = new Float32Array(n * spec.actDim);
    this.reward = new Float32Array(n);
    this.costs = new Float32Array(n * spec.costDim);
    this.flags = new Uint8Array(n);
    this.frameBytes = spec.cameras.map((c) => c.height * c.width * c.channels);
    this.frames = this.frameBytes.map((b) => new Uint8Array(n * b));
  }

  /** Bytes held by the table's arrays. */
  static byteSize(spec: FrameReplaySpec): number {
    const frames = spec.cameras.reduce((a, c) => a + c.height * c.width * c.channels, 0);
    return spec.capacity * (4 * (spec.obsDim + spec.actDim + 1 + spec.costDim) + 1 + frames);
  }

  /** Transitions stored (slots that start one). */
  get size(): number {
    return this.transitions;
  }

  /** Bytes per stored transition now (the table's memory over {@link size}); Infinity when empty. */
  bytesPerTransition(): number {
    return this.transitions ? (FrameReplay.byteSize(this.spec) * Math.min(1, this.count / this.spec.capacity)) / this.transitions : Infinity;
  }

  /**
   * Appends one transition. Its observation reuses the newest slot when that slot is the
   * previous transition's next observation (same state and frames, episode not ended); otherwise
   * (a new episode) it takes a slot of its own. Its next observation always takes a new slot.
   * Rejects malformed input before writing anything.
   */
  add(t: Transition<DictObservation>): void {
    const { actDim, costDim } = this.spec;
    const obsFrames = this.checkObservation('obs', t.obs);
    const nextFrames = this.checkObservation('nextObs', t.nextObs);
    checkVector('action', t.action, actDim);
    checkVector('costs', t.costs, costDim);
    if (!Number.isFinite(t.reward)) throw new RangeError(`Replay: reward is ${t.reward}; transitions must be finite`);
    const newest = this.count ? (this.ptr - 1 + this.spec.capacity) % this.spec.capacity : -1;
    const i = newest >= 0 && ((this.flags[newest] as number) & (ACTED | FINAL)) === 0 && this.holds(newest, t.obs.state, obsFrames) ? newest : this.push(t.obs.state, obsFrames);
    this.action.set(t.action, i * actDim);
    this.costs.set(t.costs, i * costDim);
    this.reward[i] = t.reward;
    const ended = t.terminated || t.truncated;
    this.flags[i] = ACTED | (t.terminated ? TERMINATED : 0) | (ended ? ENDED : 0) | (t.intervened ? INTERVENED : 0);
    this.transitions++;
    const j = this.push(t.nextObs.state, nextFrames);
    if (ended) this.flags[j] = FINAL;
  }

  /** Marks the newest transition as its episode's end (a resumed run restarts the episode; see ReplayBuffer.markEpisodeEnd). */
  markEpisodeEnd(): void {
    if (this.count < 2) return;
    const cap = this.spec.capacity;
    const pending = (this.ptr - 1 + cap) % cap;
    const last = (this.ptr - 2 + cap) % cap;
    if ((this.flags[last] as number) & ACTED) this.flags[last] = (this.flags[last] as number) | ENDED;
    this.flags[pending] = (this.flags[pending] as number) | FINAL;
  }

  /** Fills rows [offset, offset + count) of `batch` (allocated with this spec's cameras) with uniformly sampled n-step transitions. */
  sampleInto(batch: Batch, offset: number, count: number, rng: Rng, gamma: number, nStep = 1): void {
    if (this.transitions === 0) throw new Error('Replay: cannot sample from an empty table');
    if (!batch.frames || !batch.nextFrames || batch.frames.length !== this.frames.length) throw new Error(`Replay: the batch has no frames for the cameras ${this.spec.cameras.map((c) => c.name).join(', ')} (allocate it with this replay's spec)`);
    const cap = this.spec.capacity;
    const oldest = (this.ptr - this.count + cap) % cap;
    for (let r = 0; r < count; r++) {
      // Slots that start no transition (episodes' final observations, the newest pending one)
      // are at most one per episode: rejection keeps the draw uniform over transitions.
      let k = -1;
      for (let attempt = 0; attempt < 10_000 && k < 0; attempt++) {
        const cand = (oldest + rng.int(this.count)) % cap;
        if ((this.flags[cand] as number) & ACTED) k = cand;
      }
      if (k < 0) throw new Error('Replay: no transition found in 10,000 draws');
      this.writeRow(batch, offset + r, k, gamma, nStep);
    }
  }

  private writeRow(batch: Batch, row: number, first: number, gamma: number, nStep: number): void {
    const { obsDim, actDim, costDim, capacity } = this.spec;
    let reward = 0;
    let scale = 1;
    let last = first;
    batch.costs.fill(0, row * costDim, (row + 1) * costDim);
    for (let k = 0; k < nStep; k++) {
      const j = (first + k) % capacity;
      const f = this.flags[j] as number;
      if (!(f & ACTED)) break; // the newest (pending) slot: nothing was done from it yet
      last = j;
      reward += scale * (this.reward[j] as number);
      for (let c = 0; c < costDim; c++) batch.costs[row * costDim + c] = (batch.costs[row * costDim + c] as number) + scale * (this.costs[j * costDim + c] as number);
      scale *= gamma;
      if (f & ENDED) break;
    }
    const next = (last + 1) % capacity;
    batch.obs.set(this.state.subarray(first * obsDim, (first + 1) * obsDim), row * obsDim);
    batch.nextObs.set(this.state.subarray(next * obsDim, (next + 1) * obsDim), row * obsDim);
    batch.action.set(this.action.subarray(first * actDim, (first + 1) * actDim), row * actDim);
    this.frameBytes.forEach((n, c) => {
      const src = this.frames[c] as Uint8Array;
      (batch.frames as Uint8Array[])[c]?.set(src.subarray(first * n, (first + 1) * n), row * n);
      (batch.nextFrames as Uint8Array[])[c]?.set(src.subarray(next * n, (next + 1) * n), row * n);
    });
    batch.reward[row] = reward;
    batch.discount[row] = (this.flags[last] as number) & TERMINATED ? 0 : scale;
  }

  /**
   * The stored transitions grouped into episodes, oldest first (as ReplayBuffer.episodes: demo
   * tables feed the reward classifier this way). Observations are views into the table, valid
   * until it is written again.
   */
  *episodes(): Generator<{ obs: DictObservation; nextObs: DictObservation; terminated: boolean }[]> {
    const cap = this.spec.capacity;
    const oldest = (this.ptr - this.count + cap) % cap;
    let episode: { obs: DictObservation; nextObs: DictObservation; terminated: boolean }[] = [];
    for (let k = 0; k + 1 < this.count; k++) {
      const j = (oldest + k) % cap;
      const flags = this.flags[j] as number;
      if (!(flags & ACTED)) {
        if (episode.length) yield episode;
        episode = [];
        continue;
      }
      episode.push({ obs: this.observation(j), nextObs: this.observation((j + 1) % cap), terminated: (flags & TERMINATED) !== 0 });
      if (flags & ENDED) {
        yield episode;
        episode = [];
      }
    }
    if (episode.length) yield episode;
  }

  /** Slot i's observation (views). */
  private observation(i: number): DictObservation {
    const { obsDim } = this.spec;
    const out: Record<string, Uint8Array> = {};
    this.spec.cameras.forEach((c, k) => {
      const n = this.frameBytes[k] as number;
      out[c.name] = (this.frames[k] as Uint8Array).subarray(i * n, (i + 1) * n);
    });
    return { ...out, state: this.state.subarray(i * obsDim, (i + 1) * obsDim) };
  }

  /** Writes an observation into a new slot (overwriting the oldest when full) and returns its index. */
  private push(state: Float32Array, frames: readonly Uint8Array[]): number {
    const cap = this.spec.capacity;
    const i = this.ptr;
    if (this.count === cap && (this.flags[i] as number) & ACTED) this.transitions--;
    const { obsDim } = this.spec;
    this.state.set(state, i * obsDim);
    frames.forEach((f, c) => (this.frames[c] as Uint8Array).set(f, i * (this.frameBytes[c] as number)));
    this.flags[i] = 0;
    this.ptr = (i + 1) % cap;
    this.count = Math.min(this.count + 1, cap);
    return i;
  }

  /** Whether slot i holds exactly this state and these frames. */
  private holds(i: number, state: Float32Array, frames: readonly Uint8Array[]): boolean {
    const { obsDim } = this.spec;
    for (let k = 0; k < obsDim; k++) if (this.state[i * obsDim + k] !== state[k]) return false;
    return frames.every((f, c) => {
      const n = this.frameBytes[c] as number;
      const stored = this.frames[c] as Uint8Array;
      for (let k = 0; k < n; k++) if (stored[i * n + k] !== f[k]) return false;
      return true;
    });
  }

  private checkObservation(name: string, o: DictObservation): Uint8Array[] {
    if (typeof o !== 'object' || o === null || o instanceof Float32Array) throw new RangeError(`Replay: ${name} must be a dict observation {state, ${this.spec.cameras.map((c) => c.name).join(', ')}}`);
    checkVector(`${name}.state`, o.state, this.spec.obsDim);
    return this.spec.cameras.map((c, k) => {
      const f = o[c.name];
      const n = this.frameBytes[k] as number;
      if (!(f instanceof Uint8Array) || f.length !== n) throw new RangeError(`Replay: ${name}.${c.name} must be a Uint8Array of ${c.height}×${c.width}×${c.channels} = ${n} bytes, got ${f instanceof Uint8Array ? `${f.length} bytes` : typeof f}`);
      return f;
    });
  }

  /** Writes the table to `path` atomically, with a header and CRC-32. */
  save(path: string): void {
    writeFileAtomic(path, this.encode());
  }

  encode(): Uint8Array {
    const { header, sections } = this.exportState();
    return encodeBinary(MAGIC, header, sections);
  }

  /** Header and arrays (views) — what {@link decode} restores; used to embed the table in checkpoints. */
  exportState(): { header: Record<string, unknown>; sections: ArrayBufferView[] } {
    return { header: { spec: this.spec, ptr: this.ptr, count: this.count, transitions: this.transitions, ...(this.source ? { source: this.source } : {}) }, sections: [this.state, this.action, this.reward, this.costs, this.flags, ...this.frames] };
  }

  /** Loads a table saved by {@link save}; a corrupt or mismatched file throws before anything is built. */
  static load(path: string, expected?: Omit<FrameReplaySpec, 'capacity'>): FrameReplay {
    const file = readBinaryFile(path, MAGIC);
    return FrameReplay.decode(file.header, file.sections, path, expected);
  }

  /**
   * Rebuilds a table from {@link exportState}'s header and sections. Every field of the header is
   * checked (it comes from disk), every section's size — a frame section names its camera — and
   * the flags' consistency.
   */
  static decode(header: Record<string, unknown>, sections: Uint8Array[], what: string, expected?: Omit<FrameReplaySpec, 'capacity'>): FrameReplay {
    const spec = parseSpec(header['spec'], what);
    const ptr = header['ptr'];
    const count = header['count'];
    const transitions = header['transitions'];
    if (typeof ptr !== 'number' || typeof count !== 'number' || typeof transitions !== 'number') throw new CorruptFileError(`${what}: not a frame replay header (ptr, count, transitions)`);
    const source = header['source'] === undefined ? undefined : checkSource(header['source'], what);
    if (expected) {
      const got = describe(spec);
      const want = describe({ ...expected, capacity: spec.capacity });
      if (got !== want) throw new Error(`${what}: replay table holds ${got}; expected ${want}`);
    }
    const buf = new FrameReplay(spec);
    const arrays: { name: string; bytes: number }[] = [
      { name: 'states', bytes: buf.state.byteLength },
      { name: 'actions', bytes: buf.action.byteLength },
      { name: 'rewards', bytes: buf.reward.byteLength },
      { name: 'costs', bytes: buf.costs.byteLength },
      { name: 'flags', bytes: buf.flags.byteLength },
      ...spec.cameras.map((c, k) => ({ name: `frames of camera "${c.name}"`, bytes: (buf.frames[k] as Uint8Array).byteLength })),
    ];
    if (sections.length !== arrays.length) throw new CorruptFileError(`${what}: ${sections.length} sections, expected ${arrays.length} (5 + one per camera)`);
    arrays.forEach((a, i) => {
      const got = (sections[i] as Uint8Array).byteLength;
      if (got !== a.bytes) throw new CorruptFileError(`${what}: ${a.name}: ${got} bytes, expected ${a.bytes}`);
    });
    if (!(Number.isInteger(count) && count >= 0 && count <= spec.capacity && Number.isInteger(ptr) && ptr >= 0 && ptr < spec.capacity)) throw new CorruptFileError(`${what}: ptr/count out of range`);
    const flags = sections[4] as Uint8Array;
    let acted = 0;
    for (let k = 0; k < count; k++) if ((flags[(ptr - count + k + spec.capacity) % spec.capacity] as number) & ACTED) acted++;
    if (acted !== transitions) throw new CorruptFileError(`${what}: the flags mark ${acted} transitions, the header says ${transitions}`);
    buf.state.set(asFloat32(sections[0] as Uint8Array));
    buf.action.set(asFloat32(sections[1] as Uint8Array));
    buf.reward.set(asFloat32(sections[2] as Uint8Array));
    buf.costs.set(asFloat32(sections[3] as Uint8Array));
    buf.flags.set(flags);
    buf.frames.forEach((f, k) => f.set(sections[5 + k] as Uint8Array));
    buf.source = source;
    buf.ptr = ptr;
    buf.count = count;
    buf.transitions = transitions;
    return buf;
  }
}

function describe(s: FrameReplaySpec): string {
  return `obs ${s.obsDim}, action ${s.actDim}, costs ${s.costDim}, cameras ${s.cameras.map((c) => `${c.name} ${c.height}×${c.width}×${c.channels}`).join(', ')}`;
}

/** The spec from a file's header, checked field by field (no casts of disk input). */
function parseSpec(v: unknown, what: string): FrameReplaySpec {
  const bad = (why: string): never => {
    throw new CorruptFileError(`${what}: not a frame replay header (${why})`);
  };
  if (typeof v !== 'object' || v === null) return bad('no spec');
  const rec = new Map(Object.entries(v));
  const int = (k: string, min: number): number => {
    const x = rec.get(k);
    return typeof x === 'number' && Number.isInteger(x) && x >= min ? x : bad(`spec.${k} is ${JSON.stringify(x)}`);
  };
  const cams = rec.get('cameras');
  if (!Array.isArray(cams) || cams.length === 0) return bad('spec.cameras');
  const cameras = cams.map((c: unknown, i): CameraShape => {
    if (typeof c !== 'object' || c === null) return bad(`camera ${i}`);
    const m = new Map(Object.entries(c));
    const name = m.get('name');
    const dims = ['height', 'width', 'channels'].map((k) => m.get(k));
    if (typeof name !== 'string' || !dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 4096)) return bad(`camera ${i}`);
    const [height, width, channels] = dims as number[];
    return { name, height: height as number, width: width as number, channels: channels as number };
  });
  return { capacity: int('capacity', 2), obsDim: int('obsDim', 1), actDim: int('actDim', 1), costDim: int('costDim', 0), cameras };
}

function checkVector(name: string, v: Float32Array, n: number): void {
  if (!(v instanceof Float32Array) || v.length !== n) throw new RangeError(`Replay: ${name} must be a Float32Array of length ${n}, got ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(v[i] as number)) throw new RangeError(`Replay: ${name}[${i}] is ${v[i]}; transitions must be finite`);
}

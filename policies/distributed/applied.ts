import { CorruptFileError } from '../binary-file.js';

/** One actor incarnation's applied sequence numbers: all up to `through`, and those above it. */
interface Stream {
  readonly actorId: string;
  readonly epoch: number;
  /** Every seq ≤ through is applied (−1: none yet). */
  through: number;
  /** Applied seqs above `through` (a batch delivered out of order leaves a gap below them). */
  readonly above: Set<number>;
}

/** Past this many out-of-order seqs in one stream, the oldest gap is taken as lost for good (it bounds memory). */
const MAX_ABOVE = 4096;

/**
 * Which (actor, epoch, seq) batches the learner has applied: the de-duplication record a
 * checkpoint holds. Not a high-water mark: Redis can hand a batch over late (a reply lost while
 * Redis restarted leaves it pending, and a learner start claims it after newer ones were
 * applied), and such a batch is new, not a duplicate.
 */
export class AppliedBatches {
  private readonly streams = new Map<string, Stream>();

  private stream(actorId: string, epoch: number): Stream | undefined {
    return this.streams.get(`${epoch}:${actorId}`);
  }

  has(actorId: string, epoch: number, seq: number): boolean {
    const s = this.stream(actorId, epoch);
    return s !== undefined && (seq <= s.through || s.above.has(seq));
  }

  add(actorId: string, epoch: number, seq: number): void {
    let s = this.stream(actorId, epoch);
    if (!s) this.streams.set(`${epoch}:${actorId}`, (s = { actorId, epoch, through: -1, above: new Set() }));
    if (seq <= s.through) return;
    s.above.add(seq);
    this.compact(s);
  }

  private compact(s: Stream): void {
    while (s.above.delete(s.through + 1)) s.through++;
    if (s.above.size > MAX_ABOVE) {
      s.through = Math.min(...s.above);
      s.above.delete(s.through);
      this.compact(s);
    }
  }

  /** The newest epoch applied from each actor id. */
  epochs(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.streams.values()) out.set(s.actorId, Math.max(out.get(s.actorId) ?? 0, s.epoch));
    return out;
  }

  /** For a checkpoint: [actorId, epoch, through, seqs above]. */
  toJSON(): [string, number, number, number[]][] {
    return [...this.streams.values()].map((s) => [s.actorId, s.epoch, s.through, [...s.above].sort((a, b) => a - b)]);
  }

  /**
   * Reads {@link toJSON}'s form, checked field by field; also the older [actorId, epoch, seq]
   * rows and `lastSeq` records keyed by actor id alone (epoch 0).
   */
  static parse(streams: unknown, lastSeq?: unknown): AppliedBatches {
    const out = new AppliedBatches();
    const bad = (what: string): never => {
      throw new CorruptFileError(`checkpoint: distributed.${what} is malformed`);
    };
    const seq = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= -1;
    if (Array.isArray(streams)) {
      for (const row of streams as unknown[]) {
        if (!Array.isArray(row) || (row.length !== 3 && row.length !== 4) || typeof row[0] !== 'string' || !seq(row[1]) || row[1] < 0 || !seq(row[2])) return bad('streams');
        const above: unknown = row[3] ?? [];
        if (!Array.isArray(above) || !above.every(seq)) return bad('streams');
        const s: Stream = { actorId: row[0], epoch: row[1], through: row[2], above: new Set(above) };
        out.streams.set(`${s.epoch}:${s.actorId}`, s);
      }
    } else if (typeof lastSeq === 'object' && lastSeq !== null) {
      for (const [actorId, last] of Object.entries(lastSeq)) {
        if (!seq(last)) return bad('lastSeq');
        out.streams.set(`0:${actorId}`, { actorId, epoch: 0, through: last, above: new Set() });
      }
    } else return bad('streams');
    return out;
  }
}

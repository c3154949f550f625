import { asFloat32, CorruptFileError, decodeBinary, encodeBinary } from '../binary-file.js';
import type { PolicySnapshot } from '../sac/sac.js';

const MAGIC = 'RRLSNAP1';

/** A policy snapshot as one checksummed binary blob (what the learner broadcasts). */
export function encodeSnapshot(s: PolicySnapshot): Uint8Array {
  const { spec, w, b, lnGain, lnBias } = s.weights;
  const header = { version: s.version, actDim: s.actDim, logStdMin: s.logStdMin, logStdMax: s.logStdMax, spec, counts: [w.length, b.length, lnGain.length, lnBias.length] };
  return encodeBinary(MAGIC, header, [...w, ...b, ...lnGain, ...lnBias]);
}

/** Decodes {@link encodeSnapshot}'s blob; a corrupt one throws {@link CorruptFileError}. */
export function decodeSnapshot(bytes: Uint8Array): PolicySnapshot {
  const file = decodeBinary(MAGIC, bytes, 'policy snapshot');
  const h = file.header;
  const counts = h['counts'];
  const spec = h['spec'] as PolicySnapshot['weights']['spec'] | undefined;
  if (!Array.isArray(counts) || counts.length !== 4 || !spec || typeof h['version'] !== 'number' || typeof h['actDim'] !== 'number') throw new CorruptFileError('policy snapshot: bad header');
  const arrays = file.sections.map(asFloat32);
  const take = (n: number): Float32Array[] => arrays.splice(0, n);
  const [nw, nb, ng, nl] = counts as number[];
  const weights = { spec, w: take(nw as number), b: take(nb as number), lnGain: take(ng as number), lnBias: take(nl as number) };
  if (arrays.length) throw new CorruptFileError('policy snapshot: extra sections');
  return { version: h['version'], actDim: h['actDim'], logStdMin: h['logStdMin'] as number, logStdMax: h['logStdMax'] as number, weights };
}

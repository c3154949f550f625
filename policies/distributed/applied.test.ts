import { describe, expect, it } from 'vitest';
import { CorruptFileError } from '../binary-file.js';
import { AppliedBatches } from './applied.js';

describe('AppliedBatches (the learner’s de-duplication record)', () => {
  it('a batch handed over late, after newer ones of its stream, is new — not a duplicate; the record survives a checkpoint round trip', () => {
    const a = new AppliedBatches();
    for (const seq of [0, 1, 3, 4]) a.add('x', 2, seq);
    expect(a.has('x', 2, 2)).toBe(false); // delivered late (a lost reply while Redis restarted)
    expect(a.has('x', 2, 3)).toBe(true);
    expect(a.has('x', 1, 0)).toBe(false); // another incarnation
    const back = AppliedBatches.parse(JSON.parse(JSON.stringify(a.toJSON())));
    expect(back.has('x', 2, 2)).toBe(false);
    back.add('x', 2, 2);
    expect(back.toJSON()).toEqual([['x', 2, 4, []]]);
    expect(back.epochs()).toEqual(new Map([['x', 2]]));
  });

  it('reads older checkpoints (last seq per actor id: epoch 0) and refuses malformed ones with the field’s name', () => {
    expect(AppliedBatches.parse(undefined, { a: 5 }).has('a', 0, 5)).toBe(true);
    expect(() => AppliedBatches.parse([['a', 'one', 3]])).toThrow(CorruptFileError);
    expect(() => AppliedBatches.parse(undefined, undefined)).toThrow(/distributed\.streams/);
  });
});

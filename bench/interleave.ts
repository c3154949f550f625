/**
 * Variants timed so a loaded, shared machine hits each alike: `chunk(i)` for each of `n` variants,
 * interleaved (the order flips each round; round 0 warms up and is not counted), process CPU time
 * per chunk. `prepare(i)`, if given, runs before each chunk, untimed. Returns CPU µs per chunk
 * divided by `per` (e.g. the control steps a chunk runs), averaged over `rounds` rounds.
 */
export function interleaved(n: number, per: number, rounds: number, chunk: (i: number) => void, prepare?: (i: number) => void): number[] {
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`rounds must be a positive integer, got ${rounds}`);
  const cpu = new Array<number>(n).fill(0);
  for (let round = 0; round <= rounds; round++) {
    const order = Array.from({ length: n }, (_, i) => (round % 2 ? n - 1 - i : i));
    for (const i of order) {
      prepare?.(i);
      const c0 = process.cpuUsage();
      chunk(i);
      const c = process.cpuUsage(c0);
      if (round > 0) cpu[i] = (cpu[i] as number) + (c.user + c.system) / per / rounds;
    }
  }
  return cpu;
}

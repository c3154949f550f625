import type { SyncEnv } from '../control/env.js';

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

/**
 * The chunk of {@link interleaved} for sync envs timed side by side: `chunk(i)` steps env i `per`
 * times through `actions` (each env with its own cursor, so every env sees the same actions),
 * resetting it — seed: its step count — on termination or every `episode` steps. Each env is reset
 * with seed 0 here, before the first chunk.
 */
export function envChunks(envs: readonly SyncEnv[], actions: readonly Float32Array[], per = 50, episode = 50): (i: number) => void {
  const t = envs.map(() => 0);
  const k = envs.map(() => 0);
  for (const e of envs) e.resetSync({ seed: 0 });
  return (i) => {
    const e = envs[i] as SyncEnv;
    for (let s = 0; s < per; s++) {
      const r = e.stepSync(actions[(k[i] as number) % actions.length] as Float32Array);
      k[i] = (k[i] as number) + 1;
      t[i] = (t[i] as number) + 1;
      if (r.terminated || (t[i] as number) >= episode) {
        e.resetSync({ seed: k[i] as number });
        t[i] = 0;
      }
    }
  };
}

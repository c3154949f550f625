/**
 * Seeded pseudo-random numbers. Every source of randomness in roborl takes one of these;
 * `Math.random` is never used, so a run is reproducible from its seeds.
 *
 * Generator: xoshiro128** (Blackman & Vigna) seeded through splitmix32. Its whole state is
 * four uint32 words, which {@link Rng.getState} / {@link Rng.setState} expose so checkpoints can
 * resume the exact stream.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Second Box–Muller sample kept for the next {@link normal} call (NaN when empty). */
  private spareNormal = Number.NaN;

  constructor(seed: number) {
    this.seed(seed);
  }

  /** Largest seed accepted at the API boundary (seeds are 32-bit). */
  static readonly MAX_SEED = 0xffffffff;

  /** Re-seeds in place. `seed` must be a finite number; it is reduced to 32 bits. */
  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new RangeError(`Expected \`seed\` to be a finite number, got \`${seed}\``);
    let x = Math.trunc(seed) >>> 0;
    const next = (): number => {
      // splitmix32: decorrelates nearby seeds (0, 1, 2, ...) before they reach xoshiro.
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spareNormal = Number.NaN;
  }

  /** Next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** Uniform integer in [0, n). `n` must be a positive integer ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new RangeError(`Expected \`n\` to be a positive integer ≤ 2^32, got \`${n}\``);
    }
    // Rejection sampling removes modulo bias.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal sample (Box–Muller, both samples used). */
  normal(mean = 0, std = 1): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = Number.NaN;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place; returns `xs`. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = xs[i] as T;
      xs[i] = xs[j] as T;
      xs[j] = tmp;
    }
    return xs;
  }

  /** A new generator whose stream is derived from this one (advances this one by two draws). */
  fork(): Rng {
    const child = new Rng(0);
    child.seed(this.nextUint32() ^ Math.imul(this.nextUint32(), 0x9e3779b9));
    return child;
  }

  /** Serialisable state: the four xoshiro words and the cached normal sample. */
  getState(): RngState {
    return { words: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spareNormal };
  }

  /** Restores a state produced by {@link getState}. */
  setState(state: RngState): void {
    const w = state.words;
    if (w.length !== 4 || w.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      throw new RangeError(`Expected RNG state to be four uint32 words, got ${JSON.stringify(w)}`);
    }
    const [a, b, c, d] = w as [number, number, number, number];
    if ((a | b | c | d) === 0) throw new RangeError('RNG state of all zeros is invalid for xoshiro128**');
    this.s0 = a;
    this.s1 = b;
    this.s2 = c;
    this.s3 = d;
    this.spareNormal = state.spareNormal ?? Number.NaN;
  }
}

/** Plain-data RNG state (JSON-serialisable; `spareNormal` NaN is written as null). */
export interface RngState {
  readonly words: readonly number[];
  readonly spareNormal?: number | null;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A seed from outside (an env reset, a CLI flag, a config): an integer in [0, 2³²). Anything
 * else is refused rather than silently reduced (1.5 used to act as 1, −1 as 2³² − 1, 2³² as 0).
 */
export function checkSeed(seed: unknown, where = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > Rng.MAX_SEED) {
    throw new RangeError(`Expected ${where} to be an integer in [0, ${Rng.MAX_SEED}], got \`${String(seed)}\``);
  }
  return seed;
}

/** The i-th seed of a series that starts at `base` (wrapping at 2³², so it is always a valid seed). */
export function seedAt(base: number, i: number): number {
  return (base + i) % (Rng.MAX_SEED + 1);
}

/** Parsed command line: positionals and `--flag value` / `--flag` options. */
export interface Args {
  readonly positionals: string[];
  readonly flags: Map<string, string | true>;
}

/** Splits argv into positionals and flags; `--flag=value` and `--flag value` both work. */
export function parseArgs(argv: readonly string[], booleanFlags: readonly string[] = []): Args {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--') || a === '--') {
      // A bare `--` separates groups of positionals (roborl compare A… -- B…).
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(a.slice(2, eq), a.slice(eq + 1));
    } else if (booleanFlags.includes(a.slice(2)) || i + 1 >= argv.length || (argv[i + 1] as string).startsWith('--')) {
      flags.set(a.slice(2), true);
    } else {
      flags.set(a.slice(2), argv[++i] as string);
    }
  }
  return { positionals, flags };
}

export { UsageError } from '../experiment/errors.js';
import { UsageError } from '../experiment/errors.js';

/** Rejects flags a command does not know (typos would otherwise be silently ignored). */
export function allowFlags(args: Args, command: string, allowed: readonly string[]): void {
  for (const k of args.flags.keys()) {
    if (!allowed.includes(k)) throw new UsageError(`roborl ${command}: unknown option --${k} (options: ${allowed.map((x) => `--${x}`).join(', ')})`);
  }
}

/** An integer flag in [min, max] with a default; a bad value is a clear error. */
export function intFlag(args: Args, name: string, dflt: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = args.flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || !/^\s*[+-]?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`Expected --${name} to be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`}, got \`${v === true ? '(nothing)' : v}\``);
  }
  return n;
}

/** A `--seed`: an integer in [0, 2³²) (seeds are 32-bit; larger ones would wrap onto small ones). */
export function seedFlag(args: Args, dflt: number): number {
  return intFlag(args, 'seed', dflt, 0, 0xffffffff);
}

export function stringFlag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

import type { MetricsLog, MetricsRecord } from '../policies/metrics-log.js';

/** A positive integer from the environment variable `name` (e.g. BLAS threads); undefined when unset. */
export function positiveIntFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value !== undefined && !/^[1-9]\d*$/.test(value)) throw new RangeError(`Expected ${name} to be a positive integer, got \`${value}\``);
  return value === undefined ? undefined : Number(value);
}

/**
 * The run's last evaluation record when `step` is at an evaluation (a multiple of `every`), else
 * undefined: the evaluation at that multiple is logged around that step's callback, so both sides
 * are looked at. For a trainer's `onStep` that stops a run at its first evaluation that passes.
 */
export function evaluationAt(metrics: MetricsLog, step: number, every: number): MetricsRecord | undefined {
  if (step % every > 1) return undefined;
  return metrics.read().filter((r) => r.type === 'eval').at(-1);
}

import { evaluatePolicy } from '../../policies/evaluate.js';
import { allowFlags, intFlag, UsageError, type Args } from '../args.js';
import { loadRunPolicy, makeLearnerEnv } from '../run-setup.js';

/** `roborl eval <run-dir> [--episodes N] [--seed S] [--json]`: deterministic evaluation of a run's newest checkpoint. */
export async function evalCommand(args: Args): Promise<void> {
  allowFlags(args, 'eval', ['episodes', 'seed', 'json']);
  const runDir = args.positionals[0];
  if (!runDir) throw new UsageError('usage: roborl eval <run-dir> [--episodes N] [--seed S] [--json]');
  const episodes = intFlag(args, 'episodes', 10);
  const seed = intFlag(args, 'seed', 2_000_000, 0);
  const { config, policy, step } = await loadRunPolicy(runDir);
  const env = await makeLearnerEnv(config);
  const r = await evaluatePolicy(env, policy, episodes, seed);
  await env.close();
  const summary = { run: runDir, env: config.env.id, checkpointStep: step, episodes, returnMean: r.returnMean, returnStd: r.returnStd, successRate: r.successRate, lengthMean: r.lengthMean };
  if (args.flags.has('json')) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `${config.env.id} · checkpoint @${step} · ${episodes} episodes (deterministic)\n  return   ${r.returnMean.toFixed(2)} ± ${r.returnStd.toFixed(2)}\n  success  ${(100 * r.successRate).toFixed(0)}%\n  length   ${r.lengthMean.toFixed(1)}\n`,
  );
}

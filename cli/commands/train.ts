import { join } from 'node:path';
import { MetricsLog } from '../../policies/metrics-log.js';
import { OffPolicyTrainer } from '../../policies/sac/trainer.js';
import type { TrainerProgress } from '../../policies/run-loop.js';
import { StreamTrainer } from '../../policies/stream/trainer.js';
import { allowFlags, stringFlag, UsageError, type Args } from '../args.js';
import { loadConfig } from '../config.js';
import { Progress } from '../progress.js';
import { absolutizePaths, createRunDir, fixedPolicyFor, withBackendFlag, loadDemos, loadRunConfig, makeLearnerEnv, resolvedAlgo, useBackend } from '../run-setup.js';

/**
 * `roborl train <config.yaml> [--run-dir DIR] [--backend NAME]` starts a run; `roborl train --resume <run-dir>`
 * continues one from its newest checkpoint. SIGINT/SIGTERM stop after the current step with a
 * checkpoint; SIGKILL loses at most `train.checkpointEvery` steps.
 */
export async function trainCommand(args: Args): Promise<void> {
  allowFlags(args, 'train', ['resume', 'run-dir', 'quiet', 'backend']);
  const resumeDir = stringFlag(args, 'resume');
  const configPath = args.positionals[0];
  if (!resumeDir && !configPath) throw new UsageError('usage: roborl train <config.yaml> [--run-dir DIR]  |  roborl train --resume <run-dir>');
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const loaded = resumeDir ? loadRunConfig(resumeDir) : absolutizePaths(loadConfig(configPath as string), configPath as string);
  const config = withBackendFlag(loaded, stringFlag(args, 'backend'));
  await useBackend(config, log);
  const runDir = resumeDir ?? createRunDir(config, stringFlag(args, 'run-dir'));
  const env = await makeLearnerEnv(config, log);
  const evalEnv = await makeLearnerEnv(config);
  const progress = new Progress(config.train.steps, config.name, !args.flags.has('quiet'));
  const common = {
    env,
    evalEnv,
    schedule: config.train,
    seed: config.seed,
    checkpointDir: join(runDir, 'checkpoints'),
    metrics: new MetricsLog(join(runDir, 'metrics.jsonl')),
    log,
    onStep: (p: TrainerProgress) => {
      const costs = Object.entries(p.lastCosts ?? {}).map(([n, c]) => ` · ${n} ${c.toFixed(1)}${p.lambdas?.[n] === undefined ? '' : ` (λ ${p.lambdas[n].toFixed(2)})`}`).join('');
      progress.update(p.step, `ep ${p.episodes} return ${p.lastReturn === null ? '–' : p.lastReturn.toFixed(1)}${costs} · ${p.updatesPerSec.toFixed(0)} upd/s · ${p.envStepsPerSec.toFixed(0)} steps/s`);
    },
  };
  let trainer: OffPolicyTrainer | StreamTrainer;
  if (config.algo.kind === 'sac') {
    const algo = resolvedAlgo(config);
    const dims = { obsDim: env.spec.observationSpace.low.length, actDim: env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 1, costDim: env.spec.constraints.length };
    const demos = algo.demos ? loadDemos(algo.demos.path, config.env.id, dims) : undefined;
    if (demos) log(`${demos.size} demo transitions from ${algo.demos?.path}`);
    trainer = new OffPolicyTrainer({ ...common, config: algo, demos });
  } else {
    trainer = new StreamTrainer({ ...common, config: config.algo, fixedPolicy: fixedPolicyFor(config, env) });
  }
  log(`run folder: ${runDir} · learner ${config.algo.kind}`);
  if (resumeDir && trainer.resume() === null) log('no checkpoint found: starting from step 0');
  let signal: NodeJS.Signals | null = null;
  const stop = (s: NodeJS.Signals): void => {
    signal = s;
    trainer.requestStop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const final = await trainer.run();
  progress.done();
  if (signal) {
    trainer.dispose();
    await Promise.all([env.close(), evalEnv.close()]);
    log(`${signal}: stopped at step ${trainer.step} with a checkpoint; continue with: roborl train --resume ${runDir}`);
    process.exitCode = signal === 'SIGINT' ? 130 : 143;
    return;
  }
  process.stdout.write(
    `${config.name}: ${trainer.step} env steps · final evaluation return ${final.returnMean.toFixed(2)} ± ${final.returnStd.toFixed(2)}, success ${(100 * final.successRate).toFixed(0)}%\nrun folder: ${runDir}\n`,
  );
  trainer.dispose();
  await Promise.all([env.close(), evalEnv.close()]);
}

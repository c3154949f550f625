import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile } from '../control/running-stats.js';

const bin = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

/** Wall time of a CLI invocation (process start to exit), median and worst of `runs`, ms. */
function timeCommand(args: string[], runs = 7): { command: string; medianMs: number; worstMs: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [bin, ...args], { stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  return { command: `roborl ${args.join(' ')}`, medianMs: percentile(times, 0.5), worstMs: percentile(times, 1) };
}

/**
 * How fast the CLI answers: help and the env list load neither TensorFlow.js nor (for help)
 * Rapier. `node -e 0` beside them is the floor of starting a Node process on this machine.
 */
export async function cliBenchmark(json: boolean): Promise<unknown> {
  const t0 = performance.now();
  execFileSync(process.execPath, ['-e', '0']);
  const nodeMs = performance.now() - t0;
  const commands = [['--help'], ['train', '--help'], ['eval', '--help'], ['envs'], ['envs', '--json']].map((a) => timeCommand(a));
  const result = { nodeStartMs: nodeMs, commands, helpMs: commands[0]?.medianMs };
  if (!json) {
    process.stdout.write(`node start: ${nodeMs.toFixed(0)} ms\n`);
    for (const c of commands) process.stdout.write(`${c.command.padEnd(24)} median ${c.medianMs.toFixed(0)} ms, worst ${c.worstMs.toFixed(0)} ms\n`);
  }
  return result;
}

import type { Env } from '../control/env.js';
import { validateConfig } from '../experiment/config.js';
import { makeLearnerEnv } from '../experiment/setup.js';

/**
 * PandaReach-v0's learner env with a web teleop page in front (as `train --teleop web` builds
 * it; `hil` adds to the config's hil section, e.g. `{ frame: 'tcp' }`), and what it printed on stderr (the page's address) — kept out of the test output.
 */
export async function webTeleopEnv(name: string, hil: Readonly<Record<string, unknown>> = {}): Promise<{ env: Env; printed: string }> {
  const config = validateConfig({ name, env: { id: 'PandaReach-v0' }, algo: { kind: 'sac' }, train: { steps: 10 }, hil: { device: 'web', web: { port: 0 }, ...hil } }, 'test');
  const stderr = process.stderr.write.bind(process.stderr);
  let printed = '';
  process.stderr.write = ((s: string) => ((printed += s), true)) as typeof process.stderr.write;
  try {
    return { env: await makeLearnerEnv(config, undefined, { human: true }), printed };
  } finally {
    process.stderr.write = stderr;
  }
}

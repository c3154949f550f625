import { seedAt } from '../../control/rng.js';
import { driveEpisode } from '../../hil/drive.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { HilSectionSchema, TELEOP_DEVICES } from '../../experiment/config.js';
import { makeTeleopEnv } from '../../experiment/teleop.js';
import { stopSignals } from '../stop-signals.js';
import { demoConfig, holdStill } from '../../experiment/demos.js';
import { USAGE } from '../usage.js';
import { frameFlag } from './record-demos.js';

/**
 * `roborl teleop --env <id> [--robot ROBOT.yaml] [--config FILE] --device keyboard|hid|web [--frame joint|tcp] [--episodes N]`:
 * a person drives the simulator or a robot with no learning — through the same Tier 0 limits
 * and shield as training. The robot holds still whenever the person is not in control. Each
 * episode is summarised; Ctrl-C holds the robot and stops (exit 130).
 */
export async function teleopCommand(args: Args): Promise<void> {
  allowFlags(args, 'teleop', ['env', 'config', 'robot', 'device', 'frame', 'episodes', 'seed']);
  if (!stringFlag(args, 'env') && !stringFlag(args, 'config')) throw new UsageError(USAGE.teleop);
  const config = demoConfig(stringFlag(args, 'env'), stringFlag(args, 'config'));
  const device = stringFlag(args, 'device');
  if (device === undefined || device === 'simulated' || !(TELEOP_DEVICES as readonly string[]).includes(device)) throw new UsageError(`Expected --device to be keyboard, hid or web, got \`${device ?? '(none)'}\``);
  const episodes = intFlag(args, 'episodes', Number.MAX_SAFE_INTEGER);
  const seed = seedFlag(args, 0);
  const hil = HilSectionSchema.parse({ ...(config.hil ?? {}), device, frame: frameFlag(args) ?? config.hil?.frame ?? 'joint', onDisconnect: 'hold' });
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const { env, robot } = await makeTeleopEnv(config, hil, stringFlag(args, 'robot'), log);
  const stop = stopSignals();
  log(`teleop ${config.env.id} on ${robot ? 'the robot' : 'the simulator'}: take over to drive; the arm holds still otherwise. Ctrl-C stops.`);
  try {
    for (let e = 0; e < episodes; e++) {
      const ep = await driveEpisode(env, holdStill(env), seedAt(seed, e), stop.signal);
      const ret = ep.transitions.reduce((a, t) => a + t.reward, 0);
      process.stdout.write(`episode ${e + 1}: ${ep.transitions.length} steps · you drove ${ep.humanSteps} · return ${ret.toFixed(2)} · ended by ${ep.endedBy}${ep.success ? ' · success' : ''}\n`);
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
    process.exitCode = stop.exitCode();
    log(`stopped (${String(stop.signal.reason)})${robot ? ': the robot was sent its hold command' : ''}`);
  } finally {
    stop.dispose();
    await env.close();
  }
}

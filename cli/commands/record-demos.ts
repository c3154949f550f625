import type { Transition } from '../../control/transition.js';
import { seedAt } from '../../control/rng.js';
import { driveEpisode } from '../../hil/drive.js';
import { allowFlags, intFlag, seedFlag, stringFlag, UsageError, type Args } from '../args.js';
import { HilSectionSchema, TELEOP_DEVICES, type ExperimentConfig } from '../../experiment/config.js';
import { demoConfig, demoStartNamed, demoStartsName, demoTable, holdStill, recordDemonstrations, saveDemos, type DemoStart } from '../../experiment/demos.js';
import { Progress } from '../progress.js';
import { hasCameras, loadRecordingPolicy, recordPixelDemonstrations } from '../../experiment/pixels.js';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeTeleopEnv } from '../../experiment/teleop.js';
import { stopSignals } from '../stop-signals.js';
import { USAGE } from '../usage.js';
import { demoRecipeOrDefaults, recordedWithOf, simulatorLabel } from '../../experiment/setup.js';

/**
 * `roborl record-demos --env <id> | --config <train.yaml> [--device scripted|keyboard|hid|web] …`
 * Records demonstrations into a replay-table file that RLPD configs load (`algo.demos.path`).
 * Actions are stored as the learner sees them: rescaled to [−1, 1], as executed. By default only
 * successful episodes are kept (as SERL's demo recording does); N counts kept episodes. With a
 * person at a device, the robot holds still until they take over; their success button ends a
 * kept episode; the file is rewritten after each kept episode, and Ctrl-C keeps what was
 * recorded.
 */
export async function recordDemosCommand(args: Args): Promise<void> {
  allowFlags(args, 'record-demos', ['env', 'config', 'policy', 'device', 'frame', 'robot', 'episodes', 'out', 'seed', 'keep-failures', 'starts']);
  const envFlag = stringFlag(args, 'env');
  const configFlag = stringFlag(args, 'config');
  if (!envFlag && !configFlag) throw new UsageError(USAGE['record-demos']);
  const config = demoConfig(envFlag, configFlag);
  const id = config.env.id;
  const policyName = stringFlag(args, 'policy');
  // A camera run's folder: its policy records episodes (with --keep-failures, a success classifier's negatives).
  const runPolicy = policyName !== undefined && policyName !== 'scripted' && existsSync(join(policyName, 'config.yaml')) ? policyName : undefined;
  if (policyName !== undefined && policyName !== 'scripted' && !runPolicy) throw new UsageError(`Expected --policy to be scripted or a camera run's folder, got \`${policyName}\` (a person records with --device keyboard|hid|web)`);
  if (runPolicy && args.flags.has('device')) throw new UsageError('--policy and --device: one of them acts (a person drives with --device)');
  if (runPolicy && !hasCameras(config)) throw new UsageError(`--policy ${runPolicy}: a run's policy records with a camera config only (env.options.cameras)`);
  const device = stringFlag(args, 'device') ?? 'scripted';
  // A config's demos section says how its file is recorded (and where it is): the defaults here.
  const recipe = config.algo.kind === 'sac' && configFlag ? config.algo.demos : undefined;
  const wanted = demoRecipeOrDefaults(recipe);
  const episodes = intFlag(args, 'episodes', wanted.episodes);
  const seed = seedFlag(args, 5_000_000);
  const keepFailures = args.flags.has('keep-failures');
  const robot = stringFlag(args, 'robot');
  const scriptedState = device === 'scripted' && !runPolicy && !hasCameras(config);
  const starts = startsFlag(args, scriptedState ? wanted.starts : undefined);
  if (!scriptedState && recipe?.starts === 'spread') process.stderr.write(`note: ${configFlag}'s algo.demos.starts: spread picks the scripted expert's starts; ${device === 'scripted' ? 'a run\'s policy' : 'a person'} records from consecutive starts\n`);
  // The config's file only for the recording it describes: another count, other starts, failures
  // kept or a person's demos go to a file of their own rather than over it.
  // (A camera config cannot say spread: the schema refuses it.)
  const asConfigSays = recipe !== undefined && device === 'scripted' && !runPolicy && !keepFailures && episodes === wanted.episodes && demoStartsName(starts) === wanted.starts;
  const out = stringFlag(args, 'out') ?? (asConfigSays ? recipe.path : `demos/${id}-${episodes}${starts ? `-${demoStartsName(starts).replace(':', '')}` : ''}.demos`);
  if (starts && !scriptedState) throw new UsageError('--starts chooses the scripted expert\'s starts on a state config (not with --device, --policy or cameras)');
  if (device === 'scripted') {
    if (robot) throw new UsageError('--robot records a person driving the robot: add --device keyboard|hid|web');
    const progress = new Progress(episodes, `record ${id}`);
    if (hasCameras(config)) {
      // The config's cameras: the frames go in the table with the state the learner observes.
      const policy = runPolicy ? await loadRecordingPolicy(runPolicy, config) : undefined;
      const rec = await recordPixelDemonstrations(config, episodes, seed, keepFailures, (s, a) => progress.update(keepFailures ? a : s, `${s}/${a} successful`, true), policy);
      progress.done();
      mkdirSync(dirname(out), { recursive: true });
      rec.table.save(out);
      process.stdout.write(`wrote ${rec.table.size} transitions with frames from ${keepFailures ? rec.attempts : rec.successes} episodes (${rec.successes}/${rec.attempts} successful) to ${out}\n`);
      return;
    }
    const { table, successes, attempts } = await recordDemonstrations(config, episodes, seed, keepFailures, (s, a) => progress.update(keepFailures ? a : s, `${s}/${a} successful`, true), starts);
    progress.done();
    saveDemos(table, out);
    process.stdout.write(`wrote ${table.size} transitions from ${keepFailures ? attempts : successes} episodes (${successes}/${attempts} successful) to ${out}\n`);
    return;
  }
  if (!(TELEOP_DEVICES as readonly string[]).includes(device) || device === 'simulated') throw new UsageError(`Expected --device to be scripted, keyboard, hid or web, got \`${device}\``);
  const hil = HilSectionSchema.parse({ ...(config.hil ?? {}), device, frame: frameFlag(args) ?? config.hil?.frame ?? 'joint', onDisconnect: 'hold' });
  await recordFromPerson(config, hil, robot, { episodes, seed, out, keepFailures });
}

/** A person drives (the policy holds still); kept episodes are saved as they come; Ctrl-C saves and stops. */
async function recordFromPerson(config: ExperimentConfig, hil: ExperimentConfig['hil'] & object, robotPath: string | undefined, o: { episodes: number; seed: number; out: string; keepFailures: boolean }): Promise<void> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  if (hasCameras(config)) throw new UsageError(`a person's demos are recorded without camera frames: ${config.env.id} with env.options.cameras records its demos with the scripted expert or a camera run's policy (--policy <run>)`);
  const { env } = await makeTeleopEnv(config, hil, robotPath, log);
  // Labelled as the simulator's learner stack for the config, on a robot too (train --robot compares that one).
  const label = robotPath ? await simulatorLabel(config) : recordedWithOf(config, env);
  const stop = stopSignals();
  const kept: Transition[] = [];
  let attempts = 0;
  let keptEpisodes = 0;
  log(`recording ${o.episodes} demonstrations of ${config.env.id}: take over to drive, press success to keep an episode (failure / end episode discard it); Ctrl-C saves what was kept`);
  try {
    while (keptEpisodes < o.episodes) {
      const ep = await driveEpisode(env, holdStill(env), seedAt(o.seed, attempts), stop.signal, () => log(`episode ${attempts + 1}: ready — take over to drive`));
      attempts++;
      const keep = ep.success || o.keepFailures;
      if (keep) {
        kept.push(...ep.transitions);
        keptEpisodes++;
        saveDemos(demoTable(env, kept, label), o.out);
      }
      log(`episode ${attempts}: ${ep.transitions.length} steps, you drove ${ep.humanSteps}, ended by ${ep.endedBy}${ep.success ? ' (success)' : ''} — ${keep ? 'kept' : 'discarded'} (${keptEpisodes}/${o.episodes})`);
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
    process.exitCode = stop.exitCode();
    log(`interrupted (${String(stop.signal.reason)}): ${keptEpisodes} kept episode(s) are in ${kept.length ? o.out : '(nothing kept, no file written)'}`);
  } finally {
    stop.dispose();
    await env.close(); // a robot gets its hold command
  }
  if (!stop.signal.aborted) process.stdout.write(`wrote ${kept.length} transitions from ${keptEpisodes} episodes (${attempts} attempts) to ${o.out}\n`);
}

/** `--starts all|spread|central:SHARE` (or `dflt`), checked: which of the task's start states the expert records from (all: consecutive seeds). */
function startsFlag(args: Args, dflt?: string): DemoStart | undefined {
  const v = stringFlag(args, 'starts') ?? dflt;
  return v === undefined ? undefined : demoStartNamed(v);
}

/** `--frame joint|tcp`, checked. */
export function frameFlag(args: Args): 'joint' | 'tcp' | undefined {
  const frame = stringFlag(args, 'frame');
  if (frame !== undefined && frame !== 'joint' && frame !== 'tcp') throw new UsageError(`Expected --frame to be joint or tcp, got \`${frame}\``);
  return frame;
}

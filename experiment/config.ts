import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { guaranteedWindow } from '../policies/distributed/rate-limiter.js';
import { resolveSacConfig, SacConfigSchema } from '../policies/sac/config.js';
import { StreamAcConfigSchema, StreamQConfigSchema, StreamTdConfigSchema } from '../policies/stream/config.js';
import { CameraConfigError } from '../sim/camera/config.js';
import { splitCameraOptions } from '../tasks/cameras.js';
import { simulatedPersonProblem } from '../hil/devices/simulated-human.js';

/** Training schedule and logging. Every field documented with its default. */
export const TrainScheduleSchema = z
  .object({
    /** Total env steps. */
    steps: z.number().int().positive(),
    /** Env steps between deterministic evaluations (0: only at the end). Default 5000. */
    evalEvery: z.number().int().nonnegative().default(5000),
    /** Episodes per evaluation. Default 5. */
    evalEpisodes: z.number().int().positive().default(5),
    /** Env steps between checkpoints; a kill loses at most this many. Default 5000. */
    checkpointEvery: z.number().int().positive().default(5000),
    /** Env steps between training-metric lines. Default 1000. */
    logEvery: z.number().int().positive().default(1000),
    /** Learner updates between parameter snapshots sent to the actor. Default 1. */
    publishEvery: z.number().int().positive().default(1),
    /** BLAS threads of the learner (`backend: blas`). Default 1: a second BLIS thread spins while another process holds the cores (policies/backend.ts). */
    threads: z.number().int().min(1).max(256).optional(),
  })
  .strict();

/** The safety layers the learner's env gets (control/safety). */
export const SafetySectionSchema = z
  .object({
    /**
     * Tier 0 hard limits (joint margin, speed, soft zones, braking, workspace box) on envs that
     * command joint positions. On by default; `false` turns them off (logged loudly).
     */
    limits: z
      .union([
        z.literal(false),
        z
          .object({
            margin: z.number().nonnegative().optional(),
            softZone: z.number().nonnegative().optional(),
            brakingDecel: z.number().positive().optional(),
            maxActionRate: z.number().positive().optional(),
            watchdogMs: z.number().positive().optional(),
            /** `task`: the task's own workspace box (Panda: the table top). Default task. */
            workspace: z.enum(['task', 'none']).default('task'),
          })
          .strict(),
      ])
      .default({ workspace: 'task' }),
    /** Tier 1: the task's analytic shield (the safety-layer QP projection). Default off. */
    shield: z.boolean().default(false),
    /** Extra named constraints, each cost a mathjs expression over the task's state variables. */
    constraints: z.array(z.object({ name: z.string().regex(/^[A-Za-z0-9_]+$/), cost: z.string().min(1) }).strict()).default([]),
  })
  .strict();

/** The teleop devices a config (and `--teleop`, `--device`) can name. */
export const TELEOP_DEVICES = ['simulated', 'keyboard', 'hid', 'web'] as const;
export type TeleopDeviceName = (typeof TELEOP_DEVICES)[number];

/** Human in the loop (hil/): who intervenes, and where their transitions go. */
export const HilSectionSchema = z
  .object({
    /**
     * The teleop device. `keyboard`: this terminal (space takes over; see `roborl train --help`);
     * `hid`: a 3D mouse or gamepad over USB HID (needs `npm install node-hid`; see `hil.hid`);
     * `web`: a browser page (sliders, a virtual stick, keys) served on `hil.web`, its address and
     * token printed in the terminal; `simulated`: the task's scripted expert as a person
     * (reaction delay, noise, a run budget; takes over when the policy fails). Default simulated.
     */
    device: z.enum(TELEOP_DEVICES).default('simulated'),
    /**
     * What a person's axes move: `joint` (one action dimension each) or `tcp` (the first three
     * axes move the tool centre point in x, y, z through the task's IK; Panda tasks). Default joint.
     * On an env that acts in the tool frame (`env.options.action: { frame: tcp }`) both mean the
     * same: the axes are the action's own entries (Δtcp x, y, z, Δyaw, gripper), in its units.
     */
    frame: z.enum(['joint', 'tcp']).default('joint'),
    /** `device: web`: where the teleop page is served. Default 127.0.0.1 on a free port; another host exposes a robot's controls to that network. */
    web: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(0),
        /** A page command older than this lapses (the policy acts again). Default 300 ms. */
        staleMs: z.number().int().min(50).max(5000).default(300),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 0, staleMs: 300 }),
    /** `device: hid`: which device (USB ids, as lsusb shows them) and how its reports map. Default: an older SpaceMouse (046d:c626). */
    hid: z
      .object({
        vendorId: z.number().int().min(0).max(0xffff).default(0x046d),
        productId: z.number().int().min(0).max(0xffff).default(0xc626),
        mapping: z.enum(['spacemouse', 'spacemouse-6axis']).default('spacemouse'),
      })
      .strict()
      .default({ vendorId: 0x046d, productId: 0xc626, mapping: 'spacemouse' }),
    /** Where intervened transitions go: `both` the online and the demo buffer (HIL-SERL), or `online` only. Default both. */
    buffers: z.enum(['both', 'online']).default('both'),
    /** Copies of each intervened transition in the demo buffer (weights the person's corrections). Default 1. */
    upsample: z.number().int().min(1).max(100).default(1),
    /** A device that disconnects mid-episode: `hold` (stop, end the episode) or `policy` (hand back). Default policy (simulation). */
    onDisconnect: z.enum(['hold', 'policy']).default('policy'),
    /** The simulated person (see hil/devices/simulated-human.ts for each field's meaning and default). */
    simulated: z
      .object({
        reactionSteps: z.number().int().min(0).max(100).optional(),
        noise: z.number().min(0).max(1).optional(),
        trigger: z.enum(['failure', 'disagreement']).optional(),
        disagreement: z.number().positive().optional(),
        patience: z.number().int().min(1).optional(),
        minProgress: z.number().min(0).optional(),
        drift: z.number().positive().optional(),
        liftedAt: z.number().positive().optional(),
        dropMargin: z.number().positive().optional(),
        recover: z.number().min(0).optional(),
        holdSteps: z.number().int().min(1).optional(),
        handBack: z.enum(['recovered', 'success']).optional(),
        finishSteps: z.number().int().min(1).optional(),
        budget: z.number().gt(0).max(1).optional(),
        runSteps: z.number().int().min(1).optional(),
      })
      .strict()
      .superRefine((h, ctx) => {
        const problem = simulatedPersonProblem(h);
        if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
      })
      .default({}),
  })
  .strict();

/** Actors and a learner as separate workers (SAC / RLPD). */
export const DistributedSectionSchema = z
  .object({
    /** Actor workers, each with its own env. Default 1. */
    actors: z.number().int().min(1).max(64).default(1),
    /** `threads`: worker threads in this process (\`roborl train\`); `redis`: Redis Streams between machines (\`roborl learner\` / \`roborl actor\`). Default threads. */
    transport: z.enum(['threads', 'redis']).default('threads'),
    /** Transitions per message from an actor (an episode's end also sends). Default 32. */
    sendEvery: z.number().int().min(1).max(10_000).default(32),
    /** Sampled transitions per inserted one; default what one process does (utd × criticActorRatio × batchSize). */
    samplesPerInsert: z.number().positive().optional(),
    /** Rate limiter slack, in inserted transitions: how far actors may run ahead of (or behind) the ratio. Default 256. */
    errorBuffer: z.number().int().min(1).default(256),
    /** Transitions from a policy more than this many updates old are stale (counted; dropped with dropStale). Default 1,000. */
    maxStaleness: z.number().int().min(0).default(1000),
    dropStale: z.boolean().default(false),
    /** Redis (transport: redis): where, and how to log in. TLS: a rediss:// URL. */
    redis: z
      .object({
        url: z.string().min(1).default('redis://127.0.0.1:6379'),
        /** Keys are prefixed `roborl:<prefix>:` (default: the run name). */
        prefix: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379' }),
  })
  .strict();

export const ExperimentConfigSchema = z
  .object({
    /** Run name; the run folder is runs/<name>-<timestamp> unless --run-dir is given. */
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only'),
    env: z
      .object({
        id: z.string().min(1),
        /** Task options (see the task's documentation). */
        options: z.record(z.string(), z.unknown()).default({}),
        /** Override of the spec's episode length. */
        timeLimit: z.number().int().positive().optional(),
        /**
         * A learned success classifier (`roborl classifier train`) that replaces the env's reward
         * and success: reward 1 and the episode ends when it says success (HIL-SERL), for robots
         * whose reward cannot be computed. Relative to the config file. On the simulator,
         * evaluation still reports the task's own success.
         */
        rewardClassifier: z.string().min(1).optional(),
      })
      .strict()
      .superRefine(observationOptionsValid),
    /** Seed of everything: networks, exploration, env resets. Default 0. */
    /** Run seed: an integer in [0, 2³²). Default 0. */
    seed: z.number().int().nonnegative().max(0xffffffff).default(0),
    /** Compute backend: auto | tensorflow-gpu | blas (the system BLAS) | tensorflow | wasm | cpu. Default auto (GPU, then blas, then tfjs). */
    backend: z.enum(['auto', 'tensorflow-gpu', 'blas', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    /** The learner: `sac` (SAC / RLPD), `stream-ac`, `stream-q` or `stream-td` (stream-x). */
    algo: z.discriminatedUnion('kind', [SacConfigSchema, StreamAcConfigSchema, StreamQConfigSchema, StreamTdConfigSchema]),
    safety: SafetySectionSchema.default({ limits: { workspace: 'task' }, shield: false, constraints: [] }),
    /** Human in the loop: absent, no one intervenes. */
    hil: HilSectionSchema.optional(),
    /** Actors and a learner as separate workers: absent, one process does both. */
    distributed: DistributedSectionSchema.optional(),
    train: TrainScheduleSchema,
  })
  .strict()
  .superRefine(distributedWindowFits)
  .superRefine(demoStartsOnState);

/** `algo.demos.starts: spread` steers the scripted expert of a state config; camera configs record from consecutive starts. */
function demoStartsOnState(c: { env: { options: Record<string, unknown> }; algo: { kind: string; demos?: { starts?: string } } }, ctx: z.RefinementCtx): void {
  if (c.algo.kind !== 'sac' || c.algo.demos?.starts !== 'spread' || c.env.options['cameras'] === undefined) return;
  ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['algo', 'demos', 'starts'], message: 'spread starts are for state configs: a camera config (env.options.cameras) records its demos from consecutive starts' });
}

/**
 * An actor sends `sendEvery` transitions at once and waits until the rate limiter's window has
 * room for all of them; a batch larger than the window the limiter always leaves can wait for
 * good (the learner waits for the data). Refused here, naming the fields that fix it.
 */
function distributedWindowFits(c: { algo: z.output<typeof SacConfigSchema> | z.output<typeof StreamAcConfigSchema> | z.output<typeof StreamQConfigSchema> | z.output<typeof StreamTdConfigSchema>; distributed?: z.output<typeof DistributedSectionSchema> }, ctx: z.RefinementCtx): void {
  const d = c.distributed;
  if (!d || c.algo.kind !== 'sac') return;
  let rowsPerLearn: number;
  try {
    const algo = resolveSacConfig(c.algo);
    rowsPerLearn = algo.utd * algo.criticActorRatio * algo.batchSize;
  } catch {
    return; // the algo section's own error is reported where it is resolved
  }
  const spi = d.samplesPerInsert ?? rowsPerLearn;
  const window = guaranteedWindow({ samplesPerInsert: spi, errorBufferInserts: d.errorBuffer, rowsPerLearn });
  if (d.sendEvery <= window) return;
  const needed = Math.max(d.sendEvery - 1, Math.ceil((d.sendEvery + rowsPerLearn / spi) / 2));
  ctx.addIssue({
    code: z.ZodIssueCode.custom,
    path: ['distributed', 'sendEvery'],
    message: `a batch of distributed.sendEvery transitions (${d.sendEvery}) does not fit the window the rate limiter always leaves the actors (${Math.max(0, window)} with distributed.errorBuffer ${d.errorBuffer} and ${+(rowsPerLearn / spi).toFixed(3)} inserts per learner step); actors would wait for good. Lower distributed.sendEvery to at most ${Math.max(1, window)}, or raise distributed.errorBuffer to at least ${needed}`,
  });
}

/** `env.options.cameras` and `env.options.state` (tasks/cameras.ts), checked when the config loads rather than when the env is built. */
function observationOptionsValid(env: { id: string; options: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  try {
    splitCameraOptions(env.id, env.options, 'env.options.');
  } catch (err) {
    if (!(err instanceof CameraConfigError)) throw err;
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['options'], message: err.message });
  }
}

export type ExperimentConfig = z.output<typeof ExperimentConfigSchema>;
export type TrainSchedule = z.output<typeof TrainScheduleSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates a parsed config; every problem is reported with its path and the bad value. */
export function validateConfig(raw: unknown, source: string): ExperimentConfig {
  const result = ExperimentConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    const value = issue.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), raw);
    return `  ${path}: ${issue.message}${value !== undefined && typeof value !== 'object' ? ` (got ${JSON.stringify(value)})` : ''}`;
  });
  throw new ConfigError(`Invalid config ${source}:\n${lines.join('\n')}`);
}

/** Reads and validates a YAML experiment config. */
export function loadConfig(path: string): ExperimentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read config ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`Config ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return validateConfig(raw, path);
}

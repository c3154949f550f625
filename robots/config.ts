import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Env } from '../control/env.js';
import { SafetyLimits } from '../control/safety/safety-limits.js';
import { TimeLimit } from '../control/wrappers/time-limit.js';
import type { RobotEnv, RobotEnvOptions } from './robot-env.js';
import { RosRobotEnv } from './ros/ros-env.js';
import { DynamixelRobotEnv, FramedRobotEnv } from './serial/serial-env.js';
import { robotTask } from './task.js';

const Common = {
  /** Task definition (reward, success, observation) — the id of the simulated task it mirrors. */
  task: z.string().min(1),
  /** Episode length override (default: the task's). */
  timeLimit: z.number().int().positive().optional(),
  /** A step whose fresh joint state is this late past its deadline truncates the episode with a safe stop. Default: 5× the measured p99 sensor interval, at least 3 control periods and 250 ms. */
  staleAfterMs: z.number().positive().optional(),
  /** Joint speed when driving to the start pose (robots without a reset service), rad/s. Default 0.5. */
  resetSpeed: z.number().positive().optional(),
  /** How long a reset waits for a dropped link to come back, ms. Default 10000. */
  linkWaitMs: z.number().nonnegative().optional(),
  /** Tier 0 limits (joint margin, speed, soft zones). On unless `false`. */
  limits: z.boolean().default(true),
};

/** The serial link of `dynamixel` and `framed` robots. */
const SerialPortFields = {
  /** Device path, e.g. /dev/ttyUSB0. */
  port: z.string().min(1),
  baudRate: z.number().int().positive().default(1_000_000),
};

/** One robot camera (ROS): an image topic decoded and resized to the policy's size. */
export const RobotCameraSchema = z
  .object({
    /** The camera's name, the key of its frames (`robot.cameraFrame(name)`). */
    name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, "_" and "-" only'),
    /** The image topic, e.g. /camera/color/image_raw/compressed. */
    topic: z.string().regex(/^\//, 'a ROS topic name starting with "/"'),
    /** `compressed`: sensor_msgs/CompressedImage (JPEG or PNG); `raw`: sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8). */
    type: z.enum(['compressed', 'raw']),
    /** Size the frames are resized to (the policy's input), pixels. */
    width: z.number().int().min(1).max(4096),
    height: z.number().int().min(1).max(4096),
    /** A step whose newest frame is older than this stops the robot (safe stop, as a stale joint state). Default 250 ms. */
    maxAgeMs: z.number().positive().optional(),
    /** Frames larger than this on the wire are dropped unread, bytes. Default 8 MiB. */
    maxBytes: z.number().int().positive().optional(),
    /** rosbridge wire encoding: `none` (JSON, base64 bytes) or `cbor` (binary). Default none. */
    compression: z.enum(['none', 'cbor']).optional(),
  })
  .strict();

/** A robot's cameras: names unique, topics unique. */
const RobotCamerasSchema = z
  .array(RobotCameraSchema)
  .max(8)
  .superRefine((cams, ctx) => {
    for (const key of ['name', 'topic'] as const) {
      const seen = new Set<string>();
      cams.forEach((c, i) => {
        if (seen.has(c[key])) ctx.addIssue({ code: 'custom', path: [i, key], message: `camera ${key} "${c[key]}" is used twice` });
        seen.add(c[key]);
      });
    }
  });

/** A robot, as configured in YAML (configs/robots/ has examples). */
export const RobotConfigSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('ros'),
      ...Common,
      url: z.string().regex(/^wss?:\/\//, 'a ws:// or wss:// rosbridge URL'),
      jointStateTopic: z.string().default('/joint_states'),
      command: z.object({ topic: z.string().min(1), type: z.enum(['std_msgs/Float64MultiArray', 'trajectory_msgs/JointTrajectory', 'geometry_msgs/Twist']) }).strict(),
      resetService: z.string().optional(),
      serviceTimeoutMs: z.number().positive().optional(),
      connectTimeoutMs: z.number().positive().optional(),
      /** Judge a joint state's freshness by its header stamp (`sensor`, needs synchronised clocks) or its arrival. Default sensor. */
      stamps: z.enum(['sensor', 'arrival']).optional(),
      /** Check topic types through rosapi at connect. Default true. */
      checkTypes: z.boolean().optional(),
      /** Cameras; a camera without a fresh frame stops the robot like a stale joint state. */
      cameras: RobotCamerasSchema.optional(),
      /**
       * The gripper's command, for a task whose action has a gripper entry (`action.gripper`;
       * a gripper task without it is refused at connect). `type`: `control_msgs/GripperCommandActionGoal`
       * (default; the goal topic of a GripperCommand action server — franka_gripper's
       * `/franka_gripper/gripper_action/goal`, the default topic — each finger's position in m,
       * `maxEffort` the grasp force in N, default 20; sent when the target changes) or
       * `std_msgs/Float64MultiArray` (a group position controller over the two finger joints,
       * one position each; sent every step).
       */
      gripper: z
        .object({
          topic: z.string().regex(/^\//, 'a ROS topic name starting with "/"').default('/franka_gripper/gripper_action/goal'),
          type: z.enum(['control_msgs/GripperCommandActionGoal', 'std_msgs/Float64MultiArray']).default('control_msgs/GripperCommandActionGoal'),
          maxEffort: z.number().min(0).max(140).optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('dynamixel'),
      ...Common,
      ...SerialPortFields,
      /** Servo IDs in joint order. Default 1…n. */
      ids: z.array(z.number().int().min(0).max(252)).optional(),
      /** Per-attempt bus timeout, ms. Default: from the baud rate and usbLatencyMs. */
      timeoutMs: z.number().positive().optional(),
      retries: z.number().int().nonnegative().optional(),
      /** The USB adapter's latency timer, ms (FTDI default 16). */
      usbLatencyMs: z.number().nonnegative().optional(),
      /**
       * The gripper servo, for a task whose action has a gripper entry (a gripper task without it
       * is refused at connect): its ID and its Goal Position ticks at closed and fully open
       * fingers (defaults 2048 and 3072: a quarter turn); the opening maps linearly between them.
       */
      gripper: z
        .object({
          id: z.number().int().min(0).max(252),
          closed: z.number().int().min(0).max(4095).default(2048),
          open: z.number().int().min(0).max(4095).default(3072),
        })
        .strict()
        .refine((g) => g.closed !== g.open, { message: 'closed and open must be different ticks' })
        .optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('framed'),
      ...Common,
      ...SerialPortFields,
    })
    .strict(),
]);

export type RobotConfig = z.output<typeof RobotConfigSchema>;

export function loadRobotConfig(path: string): RobotConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`robot config ${path}: ${(err as Error).message}`);
  }
  const r = RobotConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`Invalid robot config ${path}:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  return r.data;
}

/**
 * Connects to a configured robot and returns it as an env with the task's time limit and
 * Tier 0 limits (unless `limits: false`); `robot` is the raw RobotEnv (link statistics).
 * `taskOptions`: the experiment's env options (`action`, `successHold`…), so the robot runs the
 * task the policy was trained on, not the task's defaults.
 */
export async function connectRobot(config: RobotConfig, log?: (line: string) => void, taskOptions: Record<string, unknown> = {}): Promise<{ env: Env; robot: RobotEnv }> {
  const task = robotTask(config.task, taskOptions);
  const options: RobotEnvOptions = { staleAfterMs: config.staleAfterMs, resetSpeed: config.resetSpeed, linkWaitMs: config.linkWaitMs, log };
  let robot: RobotEnv;
  if (config.kind === 'ros') {
    robot = await RosRobotEnv.connect(task, { url: config.url, jointStateTopic: config.jointStateTopic, command: config.command, resetService: config.resetService, serviceTimeoutMs: config.serviceTimeoutMs, connectTimeoutMs: config.connectTimeoutMs, stamps: config.stamps, checkTypes: config.checkTypes, cameras: config.cameras, gripper: config.gripper }, options);
  } else if (config.kind === 'dynamixel') {
    robot = await DynamixelRobotEnv.connect(task, { path: config.port, baudRate: config.baudRate, ids: config.ids, timeoutMs: config.timeoutMs, retries: config.retries, usbLatencyMs: config.usbLatencyMs, gripper: config.gripper }, options);
  } else {
    robot = await FramedRobotEnv.connect(task, { path: config.port, baudRate: config.baudRate }, options);
  }
  const limit = config.timeLimit ?? task.spec.maxEpisodeSteps;
  let env: Env = limit === null ? robot : new TimeLimit(robot, limit);
  if (config.limits) env = new SafetyLimits(env, task);
  else log?.(`WARNING: Tier 0 safety limits are OFF for the ${config.kind} robot (limits: false)`);
  return { env, robot };
}

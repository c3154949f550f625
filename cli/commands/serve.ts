import { SimulatedRobot } from '../../robots/emulator/sim-robot.js';
import { RosbridgeServer } from '../../robots/ros/rosbridge-server.js';
import { SimCamera, type SimCameraOptions } from '../../robots/emulator/sim-camera.js';
import { roundPoses, SceneWriter } from '../../control/scene.js';
import { DynamixelEmulator, FramedEmulator } from '../../robots/serial/emulators.js';
import { SerialLink } from '../../robots/serial/link.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';
import { USAGE as HELP } from '../usage.js';

const COMMAND_TYPES = ['std_msgs/Float64MultiArray', 'trajectory_msgs/JointTrajectory', 'geometry_msgs/Twist'] as const;
const GRIPPER_TYPES = ['control_msgs/GripperCommandActionGoal', 'std_msgs/Float64MultiArray'] as const;

/**
 * `roborl serve ros|serial`: a simulated robot behind a real wire protocol — a rosbridge v2
 * WebSocket server (bound to 127.0.0.1 unless --host says otherwise) or Dynamixel servos /
 * the framed protocol on a serial port (e.g. one end of a socat pty pair). Runs until
 * SIGINT/SIGTERM. `--mode lockstep` advances physics one control period per command
 * (benchmarks, tests); the default realtime mode runs at the task's control rate like a robot.
 */
export async function serveCommand(args: Args): Promise<void> {
  const [transport] = args.positionals;
  allowFlags(args, 'serve', transport === 'ros' ? ['env', 'host', 'port', 'mode', 'sensor-hz', 'command-type', 'flavor', 'record', 'camera-hz', 'camera-size', 'camera-type', 'gripper', 'gripper-topic'] : ['env', 'protocol', 'port', 'baud', 'mode', 'sensor-hz', 'record', 'gripper-id']);
  const envId = stringFlag(args, 'env');
  if (!envId || (transport !== 'ros' && transport !== 'serial')) throw new UsageError(HELP.serve);
  const mode = stringFlag(args, 'mode') ?? 'realtime';
  if (mode !== 'realtime' && mode !== 'lockstep') throw new UsageError(`--mode must be realtime or lockstep, got "${mode}"`);
  const sensorHz = intFlag(args, 'sensor-hz', 100);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const camera = transport === 'ros' ? cameraFlags(args) : null;
  // The hand's fingers are simulated only when a gripper is served (--gripper TYPE on ros, --gripper-id N on serial).
  const gripperType = transport === 'ros' ? stringFlag(args, 'gripper') : undefined;
  if (gripperType !== undefined && !(GRIPPER_TYPES as readonly string[]).includes(gripperType)) throw new UsageError(`--gripper must be one of ${GRIPPER_TYPES.join(', ')}, got "${gripperType}"`);
  const gripperId = transport === 'serial' && args.flags.has('gripper-id') ? intFlag(args, 'gripper-id', 8, 0, 252) : undefined;
  const robot = await SimulatedRobot.create(envId, { mode, sensorHz, gripper: gripperType !== undefined || gripperId !== undefined });
  let stop: () => Promise<void>;
  if (transport === 'ros') {
    const commandType = stringFlag(args, 'command-type') ?? COMMAND_TYPES[0];
    if (!(COMMAND_TYPES as readonly string[]).includes(commandType)) throw new UsageError(`--command-type must be one of ${COMMAND_TYPES.join(', ')}, got "${commandType}"`);
    const flavor = stringFlag(args, 'flavor') ?? 'ros1';
    if (flavor !== 'ros1' && flavor !== 'ros2') throw new UsageError(`--flavor must be ros1 or ros2, got "${flavor}"`);
    const host = stringFlag(args, 'host') ?? '127.0.0.1';
    if (!isLoopback(host)) log(`WARNING: --host ${host} makes this robot reachable from the network; anyone who can connect can move it (rosbridge has no authentication)`);
    const port = intFlag(args, 'port', 9090, 0, 65535);
    const cameras = camera ? [new SimCamera(robot, camera)] : [];
    const gripper = gripperType === undefined ? {} : { gripperType: gripperType as (typeof GRIPPER_TYPES)[number], ...(stringFlag(args, 'gripper-topic') ? { gripperTopic: stringFlag(args, 'gripper-topic') } : {}) };
    const server = await RosbridgeServer.start(robot, { host, port, commandType: commandType as (typeof COMMAND_TYPES)[number], flavor, log, cameras, ...gripper }).catch(async (err: NodeJS.ErrnoException) => {
      await robot.close();
      if (err.code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${host} is already in use (another rosbridge or roborl serve?): pick another with --port, or --port 0 for a free one`);
      throw err;
    });
    log(`serving ${envId} as a ROS robot on ${server.url} (rosbridge v2, ${flavor}): ${server.jointStateTopic} (sensor_msgs/JointState, ${mode === 'realtime' ? `${sensorHz} Hz` : 'lockstep'}) out, ${server.commandTopic} (${commandType}) in, ${server.resetService} (std_srvs/Trigger), /rosapi/topic_type${cameras.map((c) => `, ${c.topic} (${c.messageType}, ${c.width}×${c.height}, ${c.hz} Hz) out`).join('')}${gripperType ? `, ${server.gripperTopic} (${server.gripperType}) in` : ''}`);
    stop = () => server.close();
  } else {
    const protocol = stringFlag(args, 'protocol');
    const path = stringFlag(args, 'port');
    if ((protocol !== 'dynamixel' && protocol !== 'framed') || !path) throw new UsageError(HELP.serve);
    const link = await SerialLink.open({ path, baudRate: intFlag(args, 'baud', 1_000_000, 1), log });
    if (gripperId !== undefined && protocol !== 'dynamixel') throw new UsageError('--gripper-id: the framed protocol (v1) has no gripper command; serve --protocol dynamixel');
    const emulator = protocol === 'dynamixel' ? new DynamixelEmulator(link, robot, 1, gripperId === undefined ? undefined : { id: gripperId, closed: 2048, open: 3072 }) : new FramedEmulator(link, robot);
    log(`serving ${envId} on ${path} as ${protocol === 'dynamixel' ? `Dynamixel X-series servos, IDs 1–${robot.jointNames.length}${gripperId === undefined ? '' : ` and the gripper, ID ${gripperId} (ticks 2048 closed – 3072 open)`}` : 'a framed-protocol (v1) robot'}; ${mode}`);
    stop = async () => {
      if (emulator instanceof FramedEmulator) emulator.close();
      await link.close();
    };
  }
  const recordPath = stringFlag(args, 'record');
  let recording: NodeJS.Timeout | null = null;
  if (recordPath) {
    // The served arm as the dashboard's 3D view follows it: 10 frames a second (~50 MB an hour).
    const writer = new SceneWriter(recordPath);
    writer.write({ type: 'scene', env: envId, hz: 10, episode: 0, shapes: robot.scene().shapes });
    let t = 0;
    recording = setInterval(() => writer.write({ type: 'frame', episode: 0, t: t++, poses: roundPoses(robot.scene().poses) }), 100);
    log(`recording the scene to ${recordPath} (10 Hz)`);
  }
  const running = robot.run();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // The arm holds where it is before the server goes away.
  robot.command(robot.state().position);
  log(`${signal}: robot holding; shutting down`);
  if (recording) clearInterval(recording);
  robot.stop();
  await running;
  await stop();
  await robot.close();
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The emulator's camera from --camera-hz (0: none), --camera-size WxH and --camera-type. */
function cameraFlags(args: Args): SimCameraOptions | null {
  const hz = intFlag(args, 'camera-hz', 15, 0, 1000);
  if (hz === 0) return null;
  const size = stringFlag(args, 'camera-size') ?? '64x64';
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(size);
  const [width, height] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!(width >= 1 && height >= 1 && width <= 4096 && height <= 4096)) throw new UsageError(`--camera-size must be WIDTHxHEIGHT in pixels (1–4096 each), e.g. 64x64, got "${size}"`);
  const type = stringFlag(args, 'camera-type') ?? 'compressed';
  if (type !== 'compressed' && type !== 'raw') throw new UsageError(`--camera-type must be compressed (JPEG) or raw (rgb8), got "${type}"`);
  return { width, height, hz, type };
}

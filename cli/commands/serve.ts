import { SimulatedRobot } from '../../robots/emulator/sim-robot.js';
import { RosbridgeServer } from '../../robots/ros/rosbridge-server.js';
import { DynamixelEmulator, FramedEmulator } from '../../robots/serial/emulators.js';
import { SerialLink } from '../../robots/serial/link.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';

const USAGE = `usage:
  roborl serve ros --env <sim-id> [--host 127.0.0.1] [--port 9090] [--mode realtime|lockstep]
  roborl serve serial --env <sim-id> --protocol dynamixel|framed --port <tty> [--baud 1000000] [--mode realtime|lockstep]`;

/**
 * `roborl serve ros|serial`: a simulated robot behind a real wire protocol — a rosbridge v2
 * WebSocket server (bound to 127.0.0.1 unless --host says otherwise) or Dynamixel servos /
 * the framed protocol on a serial port (e.g. one end of a socat pty pair). Runs until
 * SIGINT/SIGTERM. `--mode lockstep` advances physics one control period per command
 * (benchmarks, tests); the default realtime mode runs at the task's control rate like a robot.
 */
export async function serveCommand(args: Args): Promise<void> {
  const [transport] = args.positionals;
  allowFlags(args, 'serve', transport === 'ros' ? ['env', 'host', 'port', 'mode'] : ['env', 'protocol', 'port', 'baud', 'mode']);
  const envId = stringFlag(args, 'env');
  if (!envId || (transport !== 'ros' && transport !== 'serial')) throw new UsageError(USAGE);
  const mode = stringFlag(args, 'mode') ?? 'realtime';
  if (mode !== 'realtime' && mode !== 'lockstep') throw new UsageError(`--mode must be realtime or lockstep, got "${mode}"`);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const robot = await SimulatedRobot.create(envId, { mode });
  let stop: () => Promise<void>;
  if (transport === 'ros') {
    const server = await RosbridgeServer.start(robot, { host: stringFlag(args, 'host') ?? '127.0.0.1', port: intFlag(args, 'port', 9090, 0), log });
    log(`serving ${envId} as a ROS robot on ${server.url} (rosbridge v2): ${server.jointStateTopic} (sensor_msgs/JointState) out, ${server.commandTopic} (Float64MultiArray or JointTrajectory) in, ${server.resetService} (std_srvs/Trigger); ${mode}`);
    stop = () => server.close();
  } else {
    const protocol = stringFlag(args, 'protocol');
    const path = stringFlag(args, 'port');
    if ((protocol !== 'dynamixel' && protocol !== 'framed') || !path) throw new UsageError(USAGE);
    const link = await SerialLink.open({ path, baudRate: intFlag(args, 'baud', 1_000_000, 1), log });
    const emulator = protocol === 'dynamixel' ? new DynamixelEmulator(link, robot) : new FramedEmulator(link, robot);
    log(`serving ${envId} on ${path} as ${protocol === 'dynamixel' ? `Dynamixel X-series servos, IDs 1–${robot.jointNames.length}` : 'a framed-protocol (v1) robot'}; ${mode}`);
    stop = async () => {
      if (emulator instanceof FramedEmulator) emulator.close();
      await link.close();
    };
  }
  const running = robot.run();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  robot.stop();
  await running;
  await stop();
  await robot.close();
}

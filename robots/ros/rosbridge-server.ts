import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { encode as encodeCbor } from 'cbor2';
import { rateLimitedLog, truncateEcho } from '../../control/log.js';
import type { SimCamera } from '../emulator/sim-camera.js';
import type { JointStateSample, SimulatedRobot } from '../emulator/sim-robot.js';
import { checkMessage, rosTime, type CommandType, type GripperType } from './messages.js';

export interface RosbridgeServerOptions {
  /** Listen address. Default 127.0.0.1: a robot must not be reachable from the network by accident. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 9090 (rosbridge's). */
  readonly port?: number;
  readonly jointStateTopic?: string;
  /** Command topic. Default /joint_group_position_controller/command. */
  readonly commandTopic?: string;
  /** The command topic's type, as the robot's controller subscribes it. Default std_msgs/Float64MultiArray. */
  readonly commandType?: CommandType;
  readonly resetService?: string;
  /**
   * The gripper's command topic (the simulated Panda hand's fingers). Default
   * /franka_gripper/gripper_action/goal, franka_gripper's GripperCommand action goal topic.
   */
  readonly gripperTopic?: string;
  /** The gripper topic's type (see {@link GripperType}). Default control_msgs/GripperCommandActionGoal. */
  readonly gripperType?: GripperType;
  /**
   * How long the robot's own reset takes, ms (a real arm homes for seconds; default 0). A
   * command that arrives meanwhile interrupts it, as on an arm controller: the service answers
   * success: false, and the command is counted in `stats.commandsDuringReset`.
   */
  readonly resetMs?: number;
  /**
   * Send the current joint state to a new subscriber at once (a latched topic). Default true;
   * false is how most drivers publish /joint_states (the first state comes with the next sensor tick).
   */
  readonly latched?: boolean;
  /**
   * `ros1` (default): like ROS 1 rosbridge, refused messages are logged on the server and the
   * client is told nothing. `ros2`: each refusal is answered with a `status` error message.
   */
  readonly flavor?: 'ros1' | 'ros2';
  /** Largest incoming WebSocket message, bytes (the ws default is 100 MiB). Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Most clients at once; more are refused at the handshake. Default 32. */
  readonly maxClients?: number;
  /** Most subscriptions per client. Default 16. */
  readonly maxSubscriptions?: number;
  /** A client with more than this many bytes queued is skipped for a state message (a slow consumer must not hold memory). Default 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** Cameras whose frames are published on their topics (each runs on its own timer; the server starts and stops them). */
  readonly cameras?: readonly SimCamera[];
  readonly log?: (line: string) => void;
}

/** Counters the server keeps (for tests and `roborl serve` logs). */
export interface RosbridgeStats {
  clients: number;
  refusedClients: number;
  published: number;
  skippedSlow: number;
  commands: number;
  /** Gripper commands taken (the simulated fingers moved to them). */
  gripperCommands: number;
  badMessages: number;
  /** Commands that arrived while the robot was resetting (each interrupts the reset). */
  commandsDuringReset: number;
  resets: number;
  /** Camera frames sent to clients. */
  frames: number;
}

/** Joint states are always this type. */
const JOINT_STATE_TYPE = 'sensor_msgs/JointState';

interface Client {
  readonly subscriptions: Set<string>;
  /** Topics subscribed with `compression: 'cbor'`: sent as binary CBOR frames. */
  readonly cbor: Set<string>;
  /** Topics this client advertised successfully → their type. */
  readonly advertised: Map<string, string>;
}

/**
 * A rosbridge v2 WebSocket server in front of a {@link SimulatedRobot}: publishes
 * sensor_msgs/JointState on the joint-state topic whenever the robot measures one, takes
 * commands on the command topic, answers the reset service (std_srvs/Trigger) and rosapi's
 * topic_type and service_type. It refuses what real rosbridge refuses: advertising a topic
 * with a type other than the one it has, and messages with fields their type lacks or of the
 * wrong kind — silently, as ROS 1 rosbridge does, unless `flavor: 'ros2'`; a field left out
 * takes its default, as in rosbridge. Targets outside
 * the arm's joint range are refused by the robot. It cannot be flooded: messages are capped
 * in size, clients and subscriptions in number, slow clients skip states rather than queue
 * them, and echoes of bad input and log lines are truncated and rate-limited.
 *
 * Binds 127.0.0.1 unless told otherwise (the reference rosbridge server ignores its address
 * option and listens on every interface).
 */
export class RosbridgeServer {
  readonly stats: RosbridgeStats = { clients: 0, refusedClients: 0, published: 0, skippedSlow: 0, commands: 0, gripperCommands: 0, badMessages: 0, commandsDuringReset: 0, resets: 0, frames: 0 };
  /** Set while a reset is in progress: a command arriving then interrupts it. */
  private resetInProgress: { interrupted: boolean } | null = null;
  private readonly clients = new Map<WebSocket, Client>();
  private readonly unsubscribeRobot: () => void;
  private readonly unsubscribeCameras: (() => void)[] = [];
  /** Camera topics → their message types. */
  private readonly cameraTypes = new Map<string, string>();
  private readonly log: (line: string) => void;
  readonly jointStateTopic: string;
  readonly commandTopic: string;
  readonly commandType: CommandType;
  readonly resetService: string;
  readonly gripperTopic: string;
  readonly gripperType: GripperType;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly robot: SimulatedRobot,
    private readonly options: RosbridgeServerOptions,
  ) {
    this.jointStateTopic = options.jointStateTopic ?? '/joint_states';
    this.commandTopic = options.commandTopic ?? '/joint_group_position_controller/command';
    this.commandType = options.commandType ?? 'std_msgs/Float64MultiArray';
    this.resetService = options.resetService ?? '/reset';
    this.gripperTopic = options.gripperTopic ?? '/franka_gripper/gripper_action/goal';
    this.gripperType = options.gripperType ?? 'control_msgs/GripperCommandActionGoal';
    this.log = rateLimitedLog(options.log ?? (() => {}));
    this.unsubscribeRobot = robot.onState((s) => this.broadcast(s));
    for (const cam of options.cameras ?? []) {
      this.cameraTypes.set(cam.topic, cam.messageType);
      this.unsubscribeCameras.push(cam.onFrame((msg) => this.publish(cam.topic, msg)));
      cam.start();
    }
    wss.on('connection', (socket) => this.accept(socket));
  }

  static async start(robot: SimulatedRobot, options: RosbridgeServerOptions = {}): Promise<RosbridgeServer> {
    const maxClients = options.maxClients ?? 32;
    let server: RosbridgeServer | null = null;
    const wss = new WebSocketServer({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 9090,
      maxPayload: options.maxMessageBytes ?? 1 << 20,
      // Refused at the handshake (HTTP 503), before a socket is kept.
      verifyClient: (_info, done) => {
        const full = server !== null && server.clients.size >= maxClients;
        if (full && server) server.stats.refusedClients++;
        done(!full, 503, `rosbridge: at most ${maxClients} clients`);
      },
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    server = new RosbridgeServer(wss, robot, options);
    return server;
  }

  get address(): AddressInfo {
    return this.wss.address() as AddressInfo;
  }

  get url(): string {
    const a = this.address;
    return `ws://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Clients connected now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Drops every client connection (as a network cut does); the server keeps listening. */
  dropClients(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  async close(): Promise<void> {
    this.unsubscribeRobot();
    for (const u of this.unsubscribeCameras) u();
    for (const cam of this.options.cameras ?? []) cam.stop();
    this.dropClients();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    this.stats.clients++;
    this.clients.set(socket, { subscriptions: new Set(), cbor: new Set(), advertised: new Map() });
    socket.on('message', (data, isBinary) => this.handle(socket, isBinary ? '' : data.toString()));
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', (err) => {
      // Oversized frames end the connection (close code 1009); the server goes on.
      this.refuse(socket, undefined, `connection error: ${err.message}`);
      this.clients.delete(socket);
    });
  }

  private handle(socket: WebSocket, text: string): void {
    const client = this.clients.get(socket);
    if (!client) return;
    let m: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as Record<string, unknown>)['op'] !== 'string') throw new Error('no "op" field');
      m = parsed as Record<string, unknown>;
    } catch (err) {
      return this.refuse(socket, undefined, `malformed message (${(err as Error).message}): ${truncateEcho(text)}`);
    }
    const id = typeof m['id'] === 'string' ? m['id'] : undefined;
    const topic = m['topic'];
    switch (m['op']) {
      case 'subscribe': {
        const type = typeof topic === 'string' ? this.topicType(topic) : '';
        if (typeof topic !== 'string' || !type || type === this.commandType) return this.refuse(socket, id, `subscribe: unknown topic ${truncateEcho(String(topic))} (this robot publishes ${[this.jointStateTopic, ...this.cameraTypes.keys()].join(', ')})`);
        if (typeof m['type'] === 'string' && m['type'] !== type) return this.refuse(socket, id, `subscribe: ${topic} has type ${type}, not ${truncateEcho(m['type'])}`);
        // JSON or CBOR as rosbridge speaks them; its png and cbor-raw are not spoken here: say so rather than send what the client does not expect.
        const compression = m['compression'] ?? 'none';
        if (compression !== 'none' && compression !== 'cbor') return this.refuse(socket, id, `subscribe: compression ${truncateEcho(String(compression), 40)} is not supported by this emulator (none or cbor)`);
        if (!client.subscriptions.has(topic) && client.subscriptions.size >= (this.options.maxSubscriptions ?? 16)) return this.refuse(socket, id, 'subscribe: too many subscriptions');
        client.subscriptions.add(topic);
        if (compression === 'cbor') client.cbor.add(topic);
        else client.cbor.delete(topic);
        // Latched: a new subscriber gets the current state at once.
        if (topic === this.jointStateTopic && this.options.latched !== false) this.sendState(socket, this.robot.state());
        return;
      }
      case 'unsubscribe':
        if (typeof topic === 'string') client.subscriptions.delete(topic);
        if (typeof topic === 'string') client.cbor.delete(topic);
        return;
      case 'advertise':
        return this.advertise(socket, client, id, topic, m['type']);
      case 'unadvertise':
        if (typeof topic === 'string') client.advertised.delete(topic);
        return;
      case 'publish':
        return this.command(socket, client, id, topic, m['msg']);
      case 'call_service':
        return void this.callService(socket, id, m);
      default:
        return this.refuse(socket, id, `unsupported op "${truncateEcho(String(m['op']), 40)}"`);
    }
  }

  /** An advertise must name this robot's command topic with the type it has (rosbridge refuses a conflicting type). */
  private advertise(socket: WebSocket, client: Client, id: string | undefined, topic: unknown, type: unknown): void {
    if (topic === this.gripperTopic) {
      if (type !== this.gripperType) return this.refuse(socket, id, `advertise: ${topic} already has type ${this.gripperType}; cannot advertise it as ${truncateEcho(String(type), 80)}`);
      client.advertised.set(this.gripperTopic, this.gripperType);
      return;
    }
    if (topic !== this.commandTopic) return this.refuse(socket, id, `advertise: unknown topic ${truncateEcho(String(topic))} (this robot listens on ${this.commandTopic} and ${this.gripperTopic})`);
    if (type !== this.commandType) return this.refuse(socket, id, `advertise: ${topic} already has type ${this.commandType}; cannot advertise it as ${truncateEcho(String(type), 80)}`);
    client.advertised.set(this.commandTopic, this.commandType);
  }

  private command(socket: WebSocket, client: Client, id: string | undefined, topic: unknown, msg: unknown): void {
    if (topic === this.gripperTopic) return this.gripper(socket, client, id, msg);
    if (topic !== this.commandTopic) return this.refuse(socket, id, `publish: unknown topic ${truncateEcho(String(topic))}`);
    // A publish on a topic whose advertise was refused goes nowhere; an implicit one takes the topic's type.
    if (client.advertised.size && !client.advertised.has(topic)) return this.refuse(socket, id, `publish: ${topic} is not advertised by this client`);
    const problem = checkMessage(this.commandType, msg);
    if (problem) return this.refuse(socket, id, `publish: bad ${this.commandType} on ${topic}: ${problem}`);
    if (this.resetInProgress) {
      this.stats.commandsDuringReset++;
      this.resetInProgress.interrupted = true;
    }
    try {
      const m = msg as Record<string, unknown>;
      if (this.commandType === 'geometry_msgs/Twist') {
        // Missing fields are rosbridge's defaults: 0.
        const v = (o: unknown, k: string): number => (o && typeof o === 'object' ? ((o as Record<string, unknown>)[k] as number | undefined) : undefined) ?? 0;
        const [lin, ang] = [m['linear'], m['angular']];
        this.robot.commandTwist([v(lin, 'x'), v(lin, 'y'), v(lin, 'z'), v(ang, 'x'), v(ang, 'y'), v(ang, 'z')]);
      } else this.robot.command(this.targetsFrom(m));
      this.stats.commands++;
    } catch (err) {
      this.refuse(socket, id, `publish: command on ${this.commandTopic} refused: ${(err as Error).message}`);
    }
  }

  /**
   * A gripper command: checked against its type as rosbridge converts it, then the opening it
   * asks for — refused, naming why, when malformed or out of the fingers' travel (the fingers
   * then stay where they were). A gripper command does not interrupt a reset (the hand is not
   * the arm).
   */
  private gripper(socket: WebSocket, client: Client, id: string | undefined, msg: unknown): void {
    const topic = this.gripperTopic;
    if (client.advertised.size && !client.advertised.has(topic)) return this.refuse(socket, id, `publish: ${topic} is not advertised by this client`);
    const problem = checkMessage(this.gripperType, msg);
    if (problem) return this.refuse(socket, id, `publish: bad ${this.gripperType} on ${topic}: ${problem}`);
    try {
      this.robot.commandGripper(this.openingFrom(msg as Record<string, unknown>));
      this.stats.gripperCommands++;
    } catch (err) {
      this.refuse(socket, id, `publish: gripper command on ${topic} refused: ${(err as Error).message}`);
    }
  }

  /**
   * The finger position (m) a checked gripper message asks for. GripperCommandActionGoal: the
   * command's position (rosbridge's default 0, closed, when left out); a negative max_effort is
   * refused. Float64MultiArray: one position per finger; the simulated fingers are coupled (a
   * mimic joint), so positions more than 1 mm apart are refused rather than averaged.
   */
  private openingFrom(msg: Record<string, unknown>): number {
    if (this.gripperType === 'std_msgs/Float64MultiArray') {
      const data = (msg['data'] as number[] | undefined) ?? [];
      if (data.length !== 2) throw new RangeError(`expected 2 finger positions (panda_finger_joint1, panda_finger_joint2), got ${data.length}`);
      const [a, b] = data as [number, number];
      if (Math.abs(a - b) > 0.001) throw new RangeError(`the fingers are coupled: positions ${a} and ${b} m differ by more than 1 mm`);
      return (a + b) / 2;
    }
    const command = ((msg['goal'] as Record<string, unknown> | undefined)?.['command'] ?? {}) as Record<string, unknown>;
    const effort = (command['max_effort'] as number | undefined) ?? 0;
    if (effort < 0) throw new RangeError(`max_effort ${effort} N is negative`);
    return (command['position'] as number | undefined) ?? 0;
  }

  /**
   * Float64MultiArray: data in joint order. JointTrajectory: first point's positions, matched by
   * joint name. A field left out has rosbridge's default (an empty array), which the robot refuses.
   */
  private targetsFrom(msg: Record<string, unknown>): Float64Array {
    if (this.commandType === 'std_msgs/Float64MultiArray') return Float64Array.from((msg['data'] as number[] | undefined) ?? []);
    const point = ((msg['points'] as unknown[] | undefined) ?? [])[0] as Record<string, unknown> | undefined;
    const positions = point?.['positions'];
    const jn = (msg['joint_names'] as string[] | undefined) ?? [];
    if (!Array.isArray(positions) || positions.length !== jn.length || positions.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new Error('the first trajectory point has no finite positions matching joint_names');
    return Float64Array.from(this.robot.jointNames, (n) => {
      const k = jn.indexOf(n);
      if (k < 0) throw new Error(`trajectory lacks joint "${n}"`);
      return positions[k] as number;
    });
  }

  private async callService(socket: WebSocket, id: string | undefined, m: Record<string, unknown>): Promise<void> {
    const service = m['service'];
    if (service === '/rosapi/topic_type') {
      const args = m['args'] as Record<string, unknown> | undefined;
      const topic = args?.['topic'];
      const type = typeof topic === 'string' ? this.topicType(topic) : '';
      return this.send(socket, { op: 'service_response', id, service, result: true, values: { type } });
    }
    if (service === '/rosapi/service_type') {
      // As ROS 1 rosapi: the service's type, '' for one that does not exist.
      const args = m['args'] as Record<string, unknown> | undefined;
      const name = args?.['service'];
      const type = name === this.resetService ? 'std_srvs/Trigger' : name === '/rosapi/topic_type' ? 'rosapi/TopicType' : name === '/rosapi/service_type' ? 'rosapi/ServiceType' : '';
      return this.send(socket, { op: 'service_response', id, service, result: true, values: { type } });
    }
    if (service !== this.resetService) return this.send(socket, { op: 'service_response', id, service, result: false, values: `unknown service ${truncateEcho(String(service), 80)}` });
    const reset = { interrupted: false };
    this.resetInProgress = reset;
    this.stats.resets++;
    try {
      await this.robot.reset();
      if (this.options.resetMs) await new Promise((r) => setTimeout(r, this.options.resetMs));
      if (reset.interrupted) throw new Error('reset interrupted by a command');
      this.send(socket, { op: 'service_response', id, service, result: true, values: { success: true, message: 'reset' } });
    } catch (err) {
      this.send(socket, { op: 'service_response', id, service, result: true, values: { success: false, message: truncateEcho((err as Error).message) } });
    } finally {
      if (this.resetInProgress === reset) this.resetInProgress = null;
    }
  }

  /** A topic's type: the joint states, the command topic, a camera; '' for one this robot does not have. */
  private topicType(topic: string): string {
    if (topic === this.jointStateTopic) return JOINT_STATE_TYPE;
    if (topic === this.commandTopic) return this.commandType;
    if (topic === this.gripperTopic) return this.gripperType;
    return this.cameraTypes.get(topic) ?? '';
  }

  /**
   * Sends `msg` on `topic` to every client subscribed to it (slow clients skip it), as rosbridge
   * encodes it: a Uint8Array field (uint8[]) as base64 in JSON, as a byte string in CBOR (a
   * binary frame). Cameras use it; tests use it to put any message — a corrupt frame — on a topic.
   */
  publish(topic: string, msg: unknown): void {
    let text: string | null = null;
    let binary: Uint8Array | null = null;
    for (const [socket, client] of this.clients) {
      if (!client.subscriptions.has(topic)) continue;
      if (client.cbor.has(topic)) this.sendState(socket, (binary ??= encodeCbor({ op: 'publish', topic, msg })));
      else this.sendState(socket, (text ??= JSON.stringify({ op: 'publish', topic, msg }, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64') : v))));
      if (topic !== this.jointStateTopic) this.stats.frames++;
    }
  }

  private broadcast(s: JointStateSample): void {
    let msg: string | null = null;
    for (const [socket, client] of this.clients) {
      if (!client.subscriptions.has(this.jointStateTopic)) continue;
      msg ??= this.stateMessage(s);
      this.sendState(socket, msg);
    }
  }

  private stateMessage(s: JointStateSample): string {
    return JSON.stringify({
      op: 'publish',
      topic: this.jointStateTopic,
      // The finger joints beside the arm's, as franka_ros's joint_state_publisher merges them.
      msg: {
        header: { seq: s.seq, stamp: rosTime(s.stampMs), frame_id: '' },
        name: [...s.names, ...(s.fingers?.names ?? [])],
        position: [...s.position, ...(s.fingers?.position ?? [])],
        velocity: [...s.velocity, ...(s.fingers ? new Array<number>(s.fingers.names.length).fill(0) : [])],
        effort: [],
      },
    });
  }

  private sendState(c: WebSocket, s: JointStateSample | string | Uint8Array): void {
    if (c.readyState !== c.OPEN) return;
    // A client that does not read its socket gets states dropped, not queued without bound.
    if (c.bufferedAmount > (this.options.maxQueuedBytes ?? 1 << 20)) {
      this.stats.skippedSlow++;
      return;
    }
    c.send(typeof s === 'string' || s instanceof Uint8Array ? s : this.stateMessage(s));
    this.stats.published++;
  }

  /** Counts and logs a refused message; a ROS 2 rosbridge also tells the client. */
  private refuse(socket: WebSocket, id: string | undefined, reason: string): void {
    this.stats.badMessages++;
    this.log(`rosbridge: ${reason}`);
    if (this.options.flavor === 'ros2') this.send(socket, { op: 'status', level: 'error', id, msg: truncateEcho(reason) });
  }

  private send(socket: WebSocket, m: Record<string, unknown>): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
  }
}

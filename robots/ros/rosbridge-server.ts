import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { JointStateSample, SimulatedRobot } from '../emulator/sim-robot.js';
import { rosTime } from './messages.js';

export interface RosbridgeServerOptions {
  /** Listen address. Default 127.0.0.1: a robot must not be reachable from the network by accident. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 9090 (rosbridge's). */
  readonly port?: number;
  readonly jointStateTopic?: string;
  /** Command topic: std_msgs/Float64MultiArray (joint order), trajectory_msgs/JointTrajectory (by name) or geometry_msgs/Twist (TCP velocity). */
  readonly commandTopic?: string;
  readonly resetService?: string;
  readonly log?: (line: string) => void;
}

/** Counters the server keeps (for tests and `roborl serve` logs). */
export interface RosbridgeStats {
  clients: number;
  published: number;
  commands: number;
  badMessages: number;
}

/**
 * A rosbridge v2 WebSocket server in front of a {@link SimulatedRobot}: publishes
 * sensor_msgs/JointState on the joint-state topic after every control tick, takes joint
 * position commands on the command topic, and answers the reset service (std_srvs/Trigger).
 * It speaks the protocol roslib speaks (subscribe, unsubscribe, advertise, unadvertise,
 * publish, call_service → service_response, status), so the ROS env can be developed and
 * tested without ROS. Malformed or unsupported messages get a `status` error reply and are
 * counted; they never reach the robot.
 *
 * Binds 127.0.0.1 unless told otherwise (the reference rosbridge server ignores its address
 * option and listens on every interface).
 */
export class RosbridgeServer {
  readonly stats: RosbridgeStats = { clients: 0, published: 0, commands: 0, badMessages: 0 };
  private readonly subscribers = new Set<WebSocket>();
  private readonly unsubscribeRobot: () => void;
  readonly jointStateTopic: string;
  readonly commandTopic: string;
  readonly resetService: string;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly robot: SimulatedRobot,
    private readonly options: RosbridgeServerOptions,
  ) {
    this.jointStateTopic = options.jointStateTopic ?? '/joint_states';
    this.commandTopic = options.commandTopic ?? '/joint_group_position_controller/command';
    this.resetService = options.resetService ?? '/reset';
    this.unsubscribeRobot = robot.onState((s) => this.broadcast(s));
    wss.on('connection', (socket) => this.accept(socket));
  }

  static async start(robot: SimulatedRobot, options: RosbridgeServerOptions = {}): Promise<RosbridgeServer> {
    const wss = new WebSocketServer({ host: options.host ?? '127.0.0.1', port: options.port ?? 9090 });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new RosbridgeServer(wss, robot, options);
  }

  get address(): AddressInfo {
    return this.wss.address() as AddressInfo;
  }

  get url(): string {
    const a = this.address;
    return `ws://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Drops every client connection (as a network cut does); the server keeps listening. */
  dropClients(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  async close(): Promise<void> {
    this.unsubscribeRobot();
    this.dropClients();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    this.stats.clients++;
    socket.on('message', (data) => this.handle(socket, data.toString()));
    socket.on('close', () => this.subscribers.delete(socket));
    socket.on('error', () => this.subscribers.delete(socket));
  }

  private handle(socket: WebSocket, text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
      if (typeof m !== 'object' || m === null || typeof m['op'] !== 'string') throw new Error('no "op" field');
    } catch (err) {
      return this.reject(socket, undefined, `malformed message: ${(err as Error).message}`);
    }
    const id = typeof m['id'] === 'string' ? m['id'] : undefined;
    switch (m['op']) {
      case 'subscribe':
        if (m['topic'] !== this.jointStateTopic) return this.reject(socket, id, `unknown topic ${String(m['topic'])} (this robot publishes ${this.jointStateTopic})`);
        this.subscribers.add(socket);
        // Latched: a new subscriber gets the current state at once (a lockstep robot publishes only on commands).
        this.sendState(socket, this.robot.state());
        return;
      case 'unsubscribe':
        if (m['topic'] === this.jointStateTopic) this.subscribers.delete(socket);
        return;
      case 'advertise':
        if (m['topic'] !== this.commandTopic) return this.reject(socket, id, `unknown topic ${String(m['topic'])} (this robot listens on ${this.commandTopic})`);
        return;
      case 'unadvertise':
        return;
      case 'publish':
        return this.command(socket, id, m['topic'], m['msg']);
      case 'call_service':
        return void this.callService(socket, id, m);
      default:
        return this.reject(socket, id, `unsupported op "${String(m['op'])}"`);
    }
  }

  private command(socket: WebSocket, id: string | undefined, topic: unknown, msg: unknown): void {
    if (topic !== this.commandTopic) return this.reject(socket, id, `unknown topic ${String(topic)}`);
    try {
      const m = msg as Record<string, unknown> | null;
      const linear = m?.['linear'] as Record<string, unknown> | undefined;
      const angular = m?.['angular'] as Record<string, unknown> | undefined;
      if (linear && angular) {
        const v = [linear['x'], linear['y'], linear['z'], angular['x'], angular['y'], angular['z']];
        if (v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new Error('twist holds a non-number (NaN / null)');
        this.robot.commandTwist(v as number[]);
      } else this.robot.command(this.targetsFrom(m));
      this.stats.commands++;
    } catch (err) {
      this.reject(socket, id, `bad command on ${this.commandTopic}: ${(err as Error).message}`);
    }
  }

  /** Float64MultiArray: data in joint order. JointTrajectory: first point's positions, matched by joint name. */
  private targetsFrom(msg: Record<string, unknown> | null): Float64Array {
    if (!msg || typeof msg !== 'object') throw new Error('message is not an object');
    const names = this.robot.jointNames;
    const numbers = (v: unknown[], what: string): Float64Array => {
      if (v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new Error(`${what} holds a non-number (NaN / null)`);
      return Float64Array.from(v as number[]);
    };
    if (Array.isArray(msg['data'])) return numbers(msg['data'] as unknown[], 'data');
    if (Array.isArray(msg['joint_names']) && Array.isArray(msg['points'])) {
      const point = (msg['points'] as Record<string, unknown>[])[0];
      const positions = point?.['positions'];
      const jn = msg['joint_names'] as string[];
      if (!Array.isArray(positions) || positions.length !== jn.length) throw new Error('trajectory point has no positions matching joint_names');
      const p = numbers(positions as unknown[], 'positions');
      return Float64Array.from(names, (n) => {
        const k = jn.indexOf(n);
        if (k < 0) throw new Error(`trajectory lacks joint "${n}"`);
        return p[k] as number;
      });
    }
    throw new Error('expected std_msgs/Float64MultiArray {data}, trajectory_msgs/JointTrajectory {joint_names, points} or geometry_msgs/Twist {linear, angular}');
  }

  private async callService(socket: WebSocket, id: string | undefined, m: Record<string, unknown>): Promise<void> {
    const service = m['service'];
    if (service !== this.resetService) {
      return this.send(socket, { op: 'service_response', id, service, result: false, values: `unknown service ${String(service)}` });
    }
    try {
      await this.robot.reset();
      this.send(socket, { op: 'service_response', id, service, result: true, values: { success: true, message: 'reset' } });
    } catch (err) {
      this.send(socket, { op: 'service_response', id, service, result: true, values: { success: false, message: (err as Error).message } });
    }
  }

  private broadcast(s: JointStateSample): void {
    if (!this.subscribers.size) return;
    const msg = this.stateMessage(s);
    for (const c of this.subscribers) this.sendState(c, msg);
  }

  private stateMessage(s: JointStateSample): string {
    return JSON.stringify({
      op: 'publish',
      topic: this.jointStateTopic,
      msg: { header: { seq: s.seq, stamp: rosTime(s.stampMs), frame_id: '' }, name: s.names, position: Array.from(s.position), velocity: Array.from(s.velocity), effort: [] },
    });
  }

  private sendState(c: WebSocket, s: JointStateSample | string): void {
    if (c.readyState !== c.OPEN) return;
    c.send(typeof s === 'string' ? s : this.stateMessage(s));
    this.stats.published++;
  }

  private reject(socket: WebSocket, id: string | undefined, reason: string): void {
    this.stats.badMessages++;
    this.options.log?.(`rosbridge: ${reason}`);
    this.send(socket, { op: 'status', level: 'error', id, msg: reason });
  }

  private send(socket: WebSocket, m: Record<string, unknown>): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
  }
}

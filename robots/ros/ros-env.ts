import * as roslibRuntime from 'roslib';
// roslib 2's published .d.ts re-exports './src/RosLib' without an extension, which NodeNext
// cannot resolve; its inner declarations are fine, so tsconfig maps `roslib-types` to them
// (types only: erased at run time, so tsx never loads that path).
import type * as RosLib from 'roslib-types';

const { Ros, Service, Topic } = roslibRuntime as unknown as typeof RosLib;
type Ros = RosLib.Ros;
type Topic<T> = RosLib.Topic<T>;
type Service<Q, R> = RosLib.Service<Q, R>;
import { RobotEnv, requireGripper, type RobotEnvOptions } from '../robot-env.js';
import type { RobotTask } from '../task.js';
import { matchJointState, rosTime, type GripperType, type JointStateMsg } from './messages.js';

import { CAMERA_DEFAULTS, CameraStream, type CameraConfig, type CameraFrame } from '../camera.js';
import { parseImageMessage, type ImageMessageType } from './camera-messages.js';

export interface RosLinkConfig {
  /** rosbridge WebSocket URL, e.g. ws://127.0.0.1:9090. */
  readonly url: string;
  readonly jointStateTopic: string;
  readonly command: { readonly topic: string; readonly type: 'std_msgs/Float64MultiArray' | 'trajectory_msgs/JointTrajectory' | 'geometry_msgs/Twist' };
  /** std_srvs/Trigger service that moves the robot to its start pose; without one, the env drives there itself. */
  readonly resetService?: string;
  /** Failing a service call after this long (roslib never fails in-flight calls on disconnect). Default 5000 ms. */
  readonly serviceTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap, ms. Defaults 100 and 5000. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** How long `connect` waits for the first connection. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * How a joint state's measurement time is judged: `sensor` (default) by its header stamp —
   * a state stamped before a command is never that command's result, whenever it arrives
   * (needs the robot's clock synchronised with this machine's, e.g. chrony) — or `arrival`.
   */
  readonly stamps?: 'sensor' | 'arrival';
  /** Check the topics' and the reset service's types through rosapi at connect. Default true (skipped with a warning when rosapi is not running). */
  readonly checkTypes?: boolean;
  /**
   * Cameras (sensor_msgs/CompressedImage or sensor_msgs/Image topics): decoded and resized to
   * each one's size; a camera without a frame fresher than its maxAgeMs stops the robot like a
   * stale joint state. `connect` waits for each camera's first frame.
   */
  readonly cameras?: readonly CameraConfig[];
  /**
   * The gripper's command topic, for tasks whose action has a gripper entry: each finger's
   * position target (m) as a GripperCommand action goal (`maxEffort` N, 0 moves without
   * grasping; sent when the target changes, as each goal preempts the last) or one position per
   * finger on a Float64MultiArray (sent every step).
   */
  readonly gripper?: { readonly topic: string; readonly type: GripperType; readonly maxEffort?: number };
}

/** Joint states must be this type. */
const JOINT_STATE_TYPE = 'sensor_msgs/JointState';
/** The reset service must be this type. */
const RESET_SERVICE_TYPE = 'std_srvs/Trigger';

/**
 * A ROS robot behind rosbridge (roslib 2): joint states from a sensor_msgs/JointState topic
 * (joints matched by name), commands as joint positions on a Float64MultiArray (ros_control
 * group controller) or JointTrajectory topic, or as the equivalent TCP velocity on a
 * geometry_msgs/Twist topic (Cartesian servoing), an optional std_srvs/Trigger reset service.
 *
 * The link is made robust where roslib is not: it reconnects with exponential backoff after a
 * close (roslib does not), never publishes while disconnected (roslib would queue without bound;
 * commands are dropped and counted instead — a stale command must not run later), attaches error
 * listeners, and times out service calls. Every incoming JointState is validated (names, lengths,
 * NaN); bad ones are counted and dropped with a log line.
 */
export class RosRobotEnv extends RobotEnv {
  private readonly ros: Ros;
  private readonly states: Topic<JointStateMsg>;
  private readonly commands: Topic<Record<string, unknown>>;
  private readonly gripperTopic: Topic<Record<string, unknown>> | null;
  /** The last gripper goal sent (action goals go out on change only), and how many were. */
  private gripperSentAt: number | null = null;
  private gripperGoals = 0;
  private readonly resetter: Service<Record<string, unknown>, { success?: boolean; message?: string }> | null;
  private closing = false;
  private backoff: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private wasConnected = false;
  private skewWarned = false;
  private readonly cameraStreams = new Map<string, { stream: CameraStream; topic: Topic<unknown>; type: ImageMessageType }>();

  private constructor(
    task: RobotTask,
    private readonly link: RosLinkConfig,
    options: RobotEnvOptions,
  ) {
    super(task, options);
    this.backoff = link.reconnectMinMs ?? 100;
    this.ros = new Ros({});
    this.ros.on('error', (e) => this.options.log?.(`ros: ${link.url}: connection error ${describe(e)}`));
    this.ros.on('close', () => this.scheduleReconnect());
    this.ros.on('connection', () => {
      this.backoff = link.reconnectMinMs ?? 100;
    });
    this.ros.on('connection', () => {
      if (this.wasConnected) this.linkUp();
      this.wasConnected = true;
    });
    this.states = new Topic<JointStateMsg>({ ros: this.ros, name: link.jointStateTopic, messageType: 'sensor_msgs/JointState', queue_length: 1 });
    this.states.on('warning', (w) => this.options.log?.(`ros: ${link.jointStateTopic}: ${w}`));
    this.commands = new Topic({ ros: this.ros, name: link.command.topic, messageType: link.command.type, queue_size: 1 });
    this.gripperTopic = link.gripper ? new Topic({ ros: this.ros, name: link.gripper.topic, messageType: link.gripper.type, queue_size: 1 }) : null;
    this.ros.on('connection', () => (this.gripperSentAt = null)); // a reconnected link resends the gripper's goal
    this.resetter = link.resetService ? new Service({ ros: this.ros, name: link.resetService, serviceType: 'std_srvs/Trigger' }) : null;
    for (const c of link.cameras ?? []) {
      const type: ImageMessageType = c.type === 'compressed' ? 'sensor_msgs/CompressedImage' : 'sensor_msgs/Image';
      // queue_length 1: rosbridge keeps only the newest frame for a slow client.
      const topic = new Topic<unknown>({ ros: this.ros, name: c.topic, messageType: type, queue_length: 1, compression: c.compression ?? 'none' });
      topic.on('warning', (w) => this.options.log?.(`ros: ${c.topic}: ${w}`));
      this.cameraStreams.set(c.name, { stream: new CameraStream(c, options.log), topic, type });
    }
    this.stats.cameras = Object.fromEntries([...this.cameraStreams].map(([name, c]) => [name, c.stream.stats]));
  }

  /** Connects (failing clearly if the bridge is not there) and subscribes. */
  static async connect(task: RobotTask, link: RosLinkConfig, options: RobotEnvOptions = {}): Promise<RosRobotEnv> {
    if (link.command.type === 'geometry_msgs/Twist') {
      if (!task.twistFor) throw new Error(`ROS robot: task ${task.spec.id} cannot be commanded with geometry_msgs/Twist`);
      // A 6-D twist cannot steer a 7-joint arm to a joint-space start pose (the null space is free).
      if (!link.resetService) throw new Error('ROS robot: a robot commanded with geometry_msgs/Twist needs a resetService to reach its start pose');
    }
    requireGripper(task, link.gripper !== undefined, 'add `gripper: { topic, type }` to the ROS robot (e.g. franka_gripper\'s /franka_gripper/gripper_action/goal, control_msgs/GripperCommandActionGoal)');
    const env = new RosRobotEnv(task, link, options);
    const timeout = link.connectTimeoutMs ?? 5000;
    try {
      await withTimeout(env.open(), timeout, `no rosbridge at ${link.url} within ${timeout} ms`);
    } catch (err) {
      env.closing = true;
      env.ros.close();
      throw new Error(`ROS robot: cannot connect to ${link.url}: ${(err as Error).message}`);
    }
    try {
      if (link.checkTypes !== false) await env.checkTopicTypes();
    } catch (err) {
      env.closing = true;
      env.ros.close();
      throw err;
    }
    env.states.subscribe((m) => env.onJointState(m));
    env.commands.advertise();
    env.gripperTopic?.advertise();
    for (const [, c] of env.cameraStreams) c.topic.subscribe((m) => env.onImage(c, m));
    for (const [name, c] of env.cameraStreams) {
      if (await c.stream.waitFirst(timeout)) continue;
      await env.close();
      throw new Error(`ROS robot: camera ${name}: no usable frame on ${c.stream.config.topic} within ${timeout} ms (${c.stream.stats.received} received${c.stream.stats.lastError ? `; last dropped: ${c.stream.stats.lastError}` : ''})`);
    }
    return env;
  }

  /**
   * Asks rosapi for the types of the joint-state and command topics and fails, naming both
   * types, when one differs from the configured type: ROS 1 rosbridge refuses the advertise and
   * every publish of a mismatched type without telling the client, so the arm would never move.
   * A joint-state topic nobody publishes (a typo) and a reset service that does not exist or
   * is not a std_srvs/Trigger fail here too, naming them, rather than as stale steps and reset
   * timeouts later. Without rosapi (not every launch file starts it) the check is skipped with a warning; the
   * not-moving check in RobotEnv still catches commands that never arrive.
   */
  private async checkTopicTypes(): Promise<void> {
    const checks: ['topic' | 'service', string, string][] = [
      ['topic', this.link.jointStateTopic, JOINT_STATE_TYPE],
      ['topic', this.link.command.topic, this.link.command.type],
    ];
    if (this.link.resetService) checks.push(['service', this.link.resetService, RESET_SERVICE_TYPE]);
    if (this.link.gripper) checks.push(['topic', this.link.gripper.topic, this.link.gripper.type]);
    for (const [, c] of this.cameraStreams) checks.push(['topic', c.stream.config.topic, c.type]);
    for (const [kind, name, expected] of checks) {
      let actual: string;
      try {
        actual = await this.rosapiType(kind, name);
      } catch (err) {
        this.options.log?.(`ros: WARNING: cannot check the type of ${name} (${(err as Error).message}); is rosapi running?`);
        return;
      }
      if (kind === 'service') {
        // rosapi answers '' for a service that does not exist: every reset would time out.
        if (!actual) throw new Error(`ROS robot: reset service ${name} does not exist (rosapi knows no such service); check resetService, or leave it out to drive to the start pose`);
        if (actual !== expected) throw new Error(`ROS robot: reset service ${name} has type ${actual}, but a reset service must be ${expected}`);
      } else if (!actual) {
        // '' is a topic nobody publishes or subscribes: for the joint states, a typo in the
        // name, and every step would go stale. (A command topic may still be without a
        // subscriber while the controller starts; the not-moving check catches it staying so.)
        if (name === this.link.jointStateTopic) throw new Error(`ROS robot: joint-state topic ${name} is not published (rosapi knows no type for it); check jointStateTopic`);
        if (name !== this.link.command.topic && name !== this.link.gripper?.topic) throw new Error(`ROS robot: camera topic ${name} is not published (rosapi knows no type for it); check the camera's topic`);
      } else if (actual !== expected) throw new Error(`ROS robot: topic ${name} has type ${actual}, but the config says ${expected}: rosbridge would refuse every message (fix command.type or the topic)`);
    }
  }

  /** rosapi's /rosapi/topic_type or /rosapi/service_type: the type, or '' for a topic nobody publishes or subscribes / a service that does not exist. */
  private rosapiType(kind: 'topic' | 'service', name: string): Promise<string> {
    const service = new Service<Record<string, string>, { type?: unknown }>({ ros: this.ros, name: `/rosapi/${kind}_type`, serviceType: kind === 'topic' ? 'rosapi/TopicType' : 'rosapi/ServiceType' });
    return withTimeout(
      new Promise<string>((resolve, reject) =>
        service.callService(
          { [kind]: name },
          (res) => (typeof res?.type === 'string' ? resolve(res.type) : reject(new Error('malformed rosapi answer'))),
          (err) => reject(new Error(String(err))),
        ),
      ),
      this.link.serviceTimeoutMs ?? 2000,
      'rosapi gave no answer',
    );
  }

  /**
   * Opens the connection: resolves on `connection`, rejects on `close` / `error`. (roslib's
   * `connect` resolves as soon as the socket object exists, before it is open or has failed.)
   */
  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.ros.off('connection', onOpen);
        this.ros.off('close', onClose);
      };
      const onOpen = (): void => (done(), resolve());
      const onClose = (): void => (done(), reject(new Error('connection refused or closed')));
      this.ros.on('connection', onOpen);
      this.ros.on('close', onClose);
      this.ros.connect(this.link.url).catch((e: unknown) => (done(), reject(e instanceof Error ? e : new Error(String(e)))));
    });
  }

  override get connected(): boolean {
    return this.ros.isConnected;
  }

  private onJointState(m: JointStateMsg): void {
    const r = matchJointState(m, this.task.jointNames);
    if ('error' in r) return this.drop(r.error);
    const receivedAt = performance.now();
    let measuredAt = receivedAt;
    if (r.stamped && this.link.stamps !== 'arrival') {
      measuredAt = r.stampMs - performance.timeOrigin;
      // Nothing is measured after it arrives: a stamp from the future is a clock offset.
      if (measuredAt > receivedAt + 5) {
        if (!this.skewWarned) this.options.log?.(`ros: WARNING: ${this.link.jointStateTopic} stamps are ${(measuredAt - receivedAt).toFixed(0)} ms ahead of this machine's clock; synchronise the clocks (chrony) or set stamps: arrival`);
        this.skewWarned = true;
        measuredAt = receivedAt;
      }
    }
    this.receive({ q: r.q, qd: r.qd, stampMs: r.stampMs, receivedAt, measuredAt });
  }

  override get cameras(): readonly CameraConfig[] {
    return this.link.cameras ?? [];
  }

  override cameraFrame(name: string): CameraFrame | null {
    const c = this.cameraStreams.get(name);
    return c ? c.stream.frame() : super.cameraFrame(name);
  }

  protected override staleCamera(): string | null {
    const now = performance.now();
    for (const [, c] of this.cameraStreams) {
      const why = c.stream.staleReason(now);
      if (why) return why;
    }
    return null;
  }

  /**
   * A camera message: taken apart, timed like a joint state (header stamp unless `stamps:
   * arrival`), handed to the camera's stream to decode. Runs inside roslib's socket handler,
   * so nothing may throw out of it: whatever goes wrong is a dropped frame.
   */
  private onImage(c: { stream: CameraStream; type: ImageMessageType }, msg: unknown): void {
    try {
      const receivedAt = performance.now();
      const parsed = parseImageMessage(c.type, msg, c.stream.config.maxBytes ?? CAMERA_DEFAULTS.maxBytes);
      if ('error' in parsed) return c.stream.reject(parsed.error);
      const stamped = Number.isFinite(parsed.stampMs) && this.link.stamps !== 'arrival';
      let measuredAt = stamped ? parsed.stampMs - performance.timeOrigin : receivedAt;
      if (measuredAt > receivedAt + 5) {
        if (!this.skewWarned) this.options.log?.(`ros: WARNING: ${c.stream.config.topic} stamps are ${(measuredAt - receivedAt).toFixed(0)} ms ahead of this machine's clock; synchronise the clocks (chrony) or set stamps: arrival`);
        this.skewWarned = true;
        measuredAt = receivedAt;
      }
      c.stream.offer({ image: parsed.image, stampMs: Number.isFinite(parsed.stampMs) ? parsed.stampMs : Date.now(), receivedAt, measuredAt });
    } catch (err) {
      c.stream.reject(`unexpected: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  protected sendTargets(targets: Float64Array): boolean {
    if (!this.ros.isConnected) return false;
    const data = Array.from(targets);
    const type = this.link.command.type;
    let msg: Record<string, unknown>;
    if (type === 'geometry_msgs/Twist') {
      const [vx, vy, vz, wx, wy, wz] = (this.task.twistFor as NonNullable<RobotTask['twistFor']>)(targets, (this.latest as { q: Float64Array }).q);
      msg = { linear: { x: vx, y: vy, z: vz }, angular: { x: wx, y: wy, z: wz } };
    } else
      msg =
        type === 'std_msgs/Float64MultiArray'
          ? { layout: { dim: [], data_offset: 0 }, data }
          : { header: { seq: 0, stamp: { secs: 0, nsecs: 0 }, frame_id: '' }, joint_names: [...this.task.jointNames], points: [{ positions: data, velocities: [], accelerations: [], effort: [], time_from_start: { secs: 0, nsecs: Math.round(1e9 / this.task.spec.controlHz) } }] };
    this.commands.publish(msg);
    return true;
  }

  protected override sendGripper(opening: number, force: boolean): boolean {
    const topic = this.gripperTopic;
    const g = this.link.gripper;
    if (!topic || !g || !this.ros.isConnected) return false;
    if (g.type === 'std_msgs/Float64MultiArray') {
      topic.publish({ layout: { dim: [], data_offset: 0 }, data: [opening, opening] });
      return true;
    }
    // Each goal preempts the one running (a grasp takes a while): a new one only when the target moves.
    if (!force && this.gripperSentAt !== null && Math.abs(opening - this.gripperSentAt) < 0.0005) return true;
    const stamp = rosTime(Date.now());
    this.gripperGoals++;
    topic.publish({ header: { seq: 0, stamp, frame_id: '' }, goal_id: { stamp, id: `roborl-gripper-${this.gripperGoals}` }, goal: { command: { position: opening, max_effort: g.maxEffort ?? 20 } } });
    this.gripperSentAt = opening;
    return true;
  }

  protected resetService(): Promise<void> | null {
    const service = this.resetter;
    if (!service) return null;
    const timeout = this.link.serviceTimeoutMs ?? 5000;
    return new Promise<void>((resolve, reject) => {
      if (!this.ros.isConnected) return reject(new Error(`ROS robot: reset service ${service.name}: not connected to ${this.link.url}`));
      const timer = setTimeout(() => reject(new Error(`ROS robot: reset service ${service.name} gave no answer within ${timeout} ms`)), timeout);
      // std_srvs/Trigger has an empty request (rosbridge rejects unknown fields): the robot homes
      // to its own start pose; the task's goal still follows the episode seed.
      service.callService(
        {},
        (res) => {
          clearTimeout(timer);
          if (res?.success === false) reject(new Error(`ROS robot: reset service ${service.name} failed: ${res.message ?? ''}`));
          else resolve();
        },
        (err) => {
          clearTimeout(timer);
          reject(new Error(`ROS robot: reset service ${service.name} failed: ${err}`));
        },
      );
    });
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.link.reconnectMaxMs ?? 5000);
    this.options.log?.(`ros: link to ${this.link.url} closed; reconnecting in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closing) return;
      // Counted once, by linkUp() on the connection event (it was counted here too: issue 19).
      this.open()
        .then(() => this.options.log?.(`ros: reconnected to ${this.link.url}`))
        .catch(() => undefined); // the close event schedules the next attempt
    }, delay);
    this.reconnectTimer.unref?.();
  }

  protected async closeTransport(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.states.unsubscribe();
    for (const [, c] of this.cameraStreams) {
      c.topic.unsubscribe();
      c.stream.close();
    }
    this.ros.close();
  }
}

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return '';
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { TimeLimit } from '../../control/wrappers/time-limit.js';
import { countSuccesses } from '../../test/episodes.js';
import { cleanup, servedRos, until } from '../../test/robot-fixtures.js';
import { pandaReachExpert } from '../../tasks/panda-reach.js';
import type { SimulatedRobot } from '../emulator/sim-robot.js';
import { robotTask } from '../task.js';
import { matchJointState } from './messages.js';
import { RosbridgeServer, type RosbridgeServerOptions } from './rosbridge-server.js';
import { RosRobotEnv, type RosLinkConfig } from './ros-env.js';
import { RobotNotMovingError } from '../robot-env.js';

const COMMAND = { topic: '/joint_group_position_controller/command', type: 'std_msgs/Float64MultiArray' } as const;
async function served(mode: 'lockstep' | 'realtime', port = 0, options: Partial<RosbridgeServerOptions> = {}): Promise<{ robot: SimulatedRobot; server: RosbridgeServer }> {
  return servedRos(mode, { port, ...options });
}

async function rosEnv(url: string, extra: Partial<RosLinkConfig> = {}, staleAfterMs?: number, log?: (l: string) => void): Promise<RosRobotEnv> {
  const env = await RosRobotEnv.connect(robotTask('PandaReach-v0'), { url, jointStateTopic: '/joint_states', command: COMMAND, reconnectMinMs: 50, ...extra }, { staleAfterMs, log });
  cleanup.push(() => env.close());
  return env;
}

/** A raw rosbridge client (the protocol as JSON over a real WebSocket). */
async function rawClient(url: string): Promise<{ ws: WebSocket; next: () => Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(url);
  const inbox: Record<string, unknown>[] = [];
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  await new Promise((r) => ws.once('open', r));
  cleanup.push(() => ws.close());
  return { ws, next: () => (inbox.length ? Promise.resolve(inbox.shift()!) : new Promise((r) => waiters.push(r))) };
}

describe('rosbridge v2 emulator (roborl serve ros)', () => {
  it('binds 127.0.0.1 by default', async () => {
    const { server } = await served('lockstep');
    expect(server.address.address).toBe('127.0.0.1');
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('as a ROS 2 rosbridge: answers malformed and unsupported messages with a status error and never forwards them to the robot', async () => {
    const { server, robot } = await served('lockstep', 0, { flavor: 'ros2' });
    const { ws, next } = await rawClient(server.url);
    const bad = [
      'not json',
      JSON.stringify({ no: 'op' }),
      JSON.stringify({ op: 'fly' }),
      JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout: { dim: [], data_offset: 0 }, data: [0, 0, 0] } }),
      JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout: { dim: [], data_offset: 0 }, data: [0, 0, 0, 0, 0, 0, null] } }),
      JSON.stringify({ op: 'publish', topic: '/cmd_vel', msg: { linear: {} } }),
      JSON.stringify({ op: 'subscribe', topic: '/camera' }),
    ];
    for (const text of bad) {
      ws.send(text);
      const reply = await next();
      expect(reply['op'], text).toBe('status');
      expect(reply['level']).toBe('error');
    }
    expect(server.stats.badMessages).toBe(bad.length);
    expect(robot.counters.commands).toBe(0);
    // A good command.
    ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout: { dim: [], data_offset: 0 }, data: Array.from(robot.state().position) } }));
    ws.send(JSON.stringify({ op: 'call_service', id: 'r1', service: '/reset', args: {} }));
    const resp = await next();
    expect(resp).toMatchObject({ op: 'service_response', id: 'r1', result: true, values: { success: true } });
    expect(robot.counters.commands).toBe(1);
  });
});

describe('the rosbridge emulator refuses what real rosbridge refuses', () => {
  const layout = { dim: [], data_offset: 0 };
  it('as ROS 1 rosbridge: a conflicting advertise, extra or wrong-kind fields and non-physical targets are refused silently (counted, logged)', async () => {
    const logs: string[] = [];
    const { server, robot } = await served('lockstep', 0, { log: (l) => logs.push(l) });
    const { ws, next } = await rawClient(server.url);
    const q = Array.from(robot.state().position);
    const refused = [
      { op: 'advertise', topic: COMMAND.topic, type: 'trajectory_msgs/JointTrajectory' },
      { op: 'publish', topic: COMMAND.topic, msg: { joint_names: robot.jointNames, points: [{ positions: q }] } },
      { op: 'publish', topic: COMMAND.topic, msg: { layout: { dim: 'none' }, data: q } },
      { op: 'publish', topic: COMMAND.topic, msg: { layout, data: q, extra: 1 } },
      { op: 'publish', topic: COMMAND.topic, msg: { layout, data: q.map((v, i) => (i === 2 ? 1e308 : v)) } },
      { op: 'publish', topic: COMMAND.topic, msg: { layout, data: q.map((v, i) => (i === 0 ? v + 5 : v)) } },
    ];
    for (const m of refused) ws.send(JSON.stringify(m));
    ws.send(JSON.stringify({ op: 'call_service', id: 'tt', service: '/rosapi/topic_type', args: { topic: COMMAND.topic } }));
    // The only answer is the service's: ROS 1 rosbridge tells the client nothing of a refusal.
    expect(await next()).toMatchObject({ op: 'service_response', id: 'tt', values: { type: 'std_msgs/Float64MultiArray' } });
    expect(server.stats.badMessages).toBe(refused.length);
    expect(robot.counters.commands).toBe(0);
    expect(robot.counters.rejected).toBe(2); // 1e308 and q + 5 rad reached the robot's own check
    expect(logs.join('\n')).toMatch(/already has type std_msgs\/Float64MultiArray; cannot advertise it as trajectory_msgs\/JointTrajectory/);
    expect(logs.join('\n')).toMatch(/msg.layout.dim is not an array/);
    ws.send(JSON.stringify({ op: 'advertise', topic: COMMAND.topic, type: COMMAND.type }));
    ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout, data: q } }));
    expect(await until(() => robot.counters.commands === 1)).toBe(true);
  });

  it('as rosbridge (message_conversion): a field left out takes its default — a Float64MultiArray without layout is taken', async () => {
    const { server, robot } = await served('lockstep');
    const { ws } = await rawClient(server.url);
    const q = Array.from(robot.state().position);
    ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { data: q } }));
    ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout: { data_offset: 0 }, data: q } }));
    expect(await until(() => robot.counters.commands === 2)).toBe(true);
    // Without data the default is an empty array: the arm refuses it (7 targets needed).
    ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: {} }));
    expect(await until(() => robot.counters.rejected === 1)).toBe(true);
    expect(server.stats.badMessages).toBe(1);
    expect(robot.counters.commands).toBe(2);
    // A Twist with one part left out: the other part is zero.
    const twist = await served('lockstep', 0, { commandType: 'geometry_msgs/Twist' });
    const t = await rawClient(twist.server.url);
    t.ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { linear: { x: 0.01 } } }));
    expect(await until(() => twist.robot.counters.commands === 1)).toBe(true);
    expect(twist.server.stats.badMessages).toBe(0);
  });

  it('a command type the topic does not have fails at connect, naming both types; without rosapi, a robot that does not move is an error', async () => {
    const { server } = await served('realtime');
    const trajectory = { topic: COMMAND.topic, type: 'trajectory_msgs/JointTrajectory' } as const;
    await expect(rosEnv(server.url, { command: trajectory, resetService: '/reset' })).rejects.toThrow(/has type std_msgs\/Float64MultiArray, but the config says trajectory_msgs\/JointTrajectory/);
    // No type check (as without rosapi): every command is refused, the arm never moves.
    const env = await rosEnv(server.url, { command: trajectory, resetService: '/reset', checkTypes: false });
    await env.reset({ seed: 0 });
    const act = new Float32Array(7).fill(0.5);
    let error: unknown = null;
    for (let k = 0; k < 30 && !error; k++) error = await env.step(act).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(RobotNotMovingError);
    expect(String(error)).toMatch(/did not move/);
    expect(server.stats.badMessages).toBeGreaterThan(0);
  }, 30_000);

  it('cannot be wedged: 200 clients flooding it, a 2 MB frame and a 10^6-element array; a good client keeps its states and new clients get in after', async () => {
    const logs: string[] = [];
    const { server, robot } = await served('realtime', 0, { log: (l) => logs.push(l), maxClients: 32 });
    const good = await rawClient(server.url);
    good.ws.send(JSON.stringify({ op: 'subscribe', topic: '/joint_states', type: 'sensor_msgs/JointState' }));
    await good.next();
    let received = 0;
    good.ws.on('message', () => received++);
    // 200 more clients: those past the cap are refused at the handshake; the rest subscribe and
    // send oversized and malformed traffic.
    const flood: WebSocket[] = [];
    const opened = await Promise.all(
      Array.from({ length: 200 }, () => {
        const ws = new WebSocket(server.url);
        flood.push(ws);
        ws.on('error', () => {});
        return new Promise<boolean>((r) => (ws.once('open', () => r(true)), ws.once('close', () => r(false)), ws.once('unexpected-response', () => r(false))));
      }),
    );
    expect(opened.filter(Boolean).length).toBeLessThanOrEqual(31);
    expect(server.stats.refusedClients).toBeGreaterThanOrEqual(169);
    const t0 = performance.now();
    for (const ws of flood) {
      if (ws.readyState !== ws.OPEN) continue;
      ws.send(JSON.stringify({ op: 'subscribe', topic: '/joint_states' }));
      ws.send('x'.repeat(2 << 20)); // 2 MB: over the 1 MiB cap, the connection is closed
    }
    const before = received;
    // The good client still gets the 100 Hz states while the flood is handled (a count, not a
    // rate: on a loaded machine 500 ms gave it as few as 2).
    expect(await until(() => received - before >= 25, 5000)).toBe(true);
    expect(good.ws.readyState).toBe(good.ws.OPEN);
    for (const ws of flood) ws.terminate();
    // A new client connects and gets states within a second.
    const late = await rawClient(server.url);
    late.ws.send(JSON.stringify({ op: 'subscribe', topic: '/joint_states' }));
    expect((await late.next())['op']).toBe('publish');
    late.ws.send('{"op": "publish", "msg": ' + 'x'.repeat(900_000)); // under the cap but not JSON: refused, echo truncated
    await new Promise((r) => setTimeout(r, 200));
    expect(performance.now() - t0).toBeLessThan(10_000);
    // A well-formed Float64MultiArray of 10^6 elements (2 MB of JSON): over the 1 MiB cap, the
    // connection is closed (1009) before anything is parsed; nothing reaches the robot.
    const commandsBefore = robot.counters.commands;
    const rejectedBefore = robot.counters.rejected;
    const huge = JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout, data: new Array(1_000_000).fill(1) } });
    expect(huge.length).toBeGreaterThan(1 << 20);
    const big = await rawClient(server.url);
    const closed = new Promise<number>((r) => big.ws.once('close', (code) => r(code)));
    big.ws.send(huge);
    expect(await closed).toBe(1009);
    // Just under the cap (2·10^5 elements, ~400 kB) it is parsed, and the arm refuses 200 000 targets.
    const underCap = JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { layout, data: new Array(200_000).fill(1) } });
    expect(underCap.length).toBeLessThan(1 << 20);
    late.ws.send(underCap);
    expect(await until(() => robot.counters.rejected === rejectedBefore + 1)).toBe(true);
    expect(robot.counters.commands).toBe(commandsBefore);
    // The late client still gets its states after all of it.
    expect((await late.next())['op']).toBe('publish');
    expect(Math.max(...logs.map((l) => l.length))).toBeLessThan(600);
    expect(logs.length).toBeLessThan(100);
  }, 30_000);
});

describe('ROS robot env (roslib 2 over a real WebSocket)', () => {
  it('runs the task end to end: the scripted expert reaches its goals, with observation ages reported', async () => {
    const { server } = await served('realtime');
    const raw = await rosEnv(server.url, { resetService: '/reset' });
    const env = new TimeLimit(raw, 50);
    const ages: number[] = [];
    expect(await countSuccesses(env, pandaReachExpert(), [0, 1, 2], (r) => ages.push(r.info.obsAgeMs ?? Number.NaN))).toBe(3);
    // Each observation was measured after its step's command and taken by the env's own stale
    // limit (250 ms by default): no older.
    expect(raw.staleAfterMs).toBeGreaterThanOrEqual(250);
    expect(ages.length).toBeGreaterThan(10);
    for (const age of ages) {
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(raw.staleAfterMs);
    }
    expect(raw.stats.staleSteps).toBe(0);
  });

  it('commands as geometry_msgs/Twist (Cartesian servoing): the same expert still reaches its goals', async () => {
    const { server, robot } = await served('realtime', 0, { commandType: 'geometry_msgs/Twist' });
    await expect(rosEnv(server.url, { command: { topic: server.commandTopic, type: 'geometry_msgs/Twist' } })).rejects.toThrow(/needs a resetService/);
    const env = new TimeLimit(await rosEnv(server.url, { command: { topic: server.commandTopic, type: 'geometry_msgs/Twist' }, resetService: '/reset' }), 50);
    expect(await countSuccesses(env, pandaReachExpert(), [0, 1, 2])).toBe(3);
    expect(robot.counters.rejected).toBe(0);
    expect(server.stats.badMessages).toBe(0);
  });

  it('matches joints by name and drops joint states with missing joints, bad lengths or NaN (counted, logged)', async () => {
    const task = robotTask('PandaReach-v0');
    const names = [...task.jointNames];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    cleanup.push(() => new Promise<void>((r) => wss.close(() => r())));
    // A minimal rosbridge peer: once subscribed, it publishes these JointState messages.
    const shuffled = ['finger', ...[...names].reverse()];
    const msgs = [
      { name: names.slice(1), position: [0, 0, 0, 0, 0, 0], velocity: [] },
      { name: names, position: [0, 0, 0], velocity: [] },
      { name: names, position: [0, 0, 0, Number.NaN, 0, 0, 0], velocity: [] },
      { name: shuffled, position: shuffled.map((_, i) => i), velocity: shuffled.map(() => 0.5) },
    ];
    wss.on('connection', (ws) =>
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { op: string };
        if (m.op !== 'subscribe') return;
        for (const msg of msgs) ws.send(JSON.stringify({ op: 'publish', topic: '/joint_states', msg: { header: { stamp: { secs: 1, nsecs: 0 } }, ...msg } })); // NaN goes out as null, as from a Python driver's float('nan') through rosbridge's JSON
      }),
    );
    const logs: string[] = [];
    const env = await rosEnv(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {}, undefined, (l) => logs.push(l));
    await new Promise((r) => setTimeout(r, 200));
    expect(env.stats.statesDropped).toBe(3);
    expect(env.stats.statesReceived).toBe(1);
    expect(logs.filter((l) => l.includes('dropped joint state'))).toHaveLength(3);
    expect(logs.join('\n')).toMatch(/lacks joint "panda_joint1"/);
    // By name: the message listed the joints reversed after an extra one, so joint k had value 7 − k.
    const m = matchJointState(msgs[3]!, names);
    expect('q' in m && Array.from(m.q)).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it('a dropped link mid-episode: the step ends truncated with a safe stop, the env reconnects, and the next episode runs', async () => {
    const { server, robot } = await served('realtime');
    const port = server.address.port;
    const logs: string[] = [];
    const raw = await rosEnv(server.url, {}, 150, (l) => logs.push(l));
    const env = new TimeLimit(raw, 50);
    const { obs } = await env.reset({ seed: 1 });
    let r = await env.step(new Float32Array(7));
    expect(r.truncated).toBe(false);
    // Cut the network: the server stops and every connection drops.
    await server.close();
    const t0 = performance.now();
    r = await env.step(new Float32Array(7).fill(0.5));
    expect(r.truncated).toBe(true);
    expect(r.info.linkError).toMatch(/link down|no fresh joint state/);
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(env.step(new Float32Array(7))).rejects.toThrow(/outside an episode/);
    expect(obs.length).toBe(23);
    // The robot side holds on its own command watchdog (500 ms) once commands stop arriving.
    await new Promise((res) => setTimeout(res, 700));
    expect(robot.counters.watchdogHolds).toBeGreaterThanOrEqual(1);
    const commandsWhileDown = robot.counters.commands;
    // A new server on the same port brings the link back.
    const again = await RosbridgeServer.start(robot, { port });
    cleanup.push(() => again.close());
    const deadline = performance.now() + 5000;
    while (!raw.connected && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(raw.connected).toBe(true);
    // On reconnect the env sent the hold command (where the arm is now), and nothing else.
    expect(await until(() => robot.counters.commands > commandsWhileDown)).toBe(true);
    await new Promise((res) => setTimeout(res, 100));
    expect(robot.counters.commands).toBe(commandsWhileDown + 1);
    // One reconnect, counted once (it was counted twice: issue 19).
    expect(raw.stats.reconnects).toBe(1);
    await env.reset({ seed: 2 });
    r = await env.step(new Float32Array(7));
    expect(r.truncated).toBe(false);
    expect(logs.join('\n')).toMatch(/reconnecting in \d+ ms/);
  }, 20_000);

  it('after a reconnect, the pending hold does not land on the robot\'s own reset (issue 19)', async () => {
    // A robot whose reset takes 300 ms (homing), interrupted by any command meanwhile, and a
    // /joint_states that is not latched (the first state after a subscribe is the next tick).
    const { server, robot } = await served('realtime', 0, { resetMs: 300, latched: false });
    const raw = await rosEnv(server.url, { resetService: '/reset' });
    await raw.reset({ seed: 0 });
    expect((await raw.step(new Float32Array(7))).truncated).toBe(false);
    // The network drops while the robot's driver is paused; the env reconnects with a hold pending.
    robot.stop();
    server.dropClients();
    expect(await until(() => !raw.connected, 2000)).toBe(true);
    expect(await until(() => raw.connected, 5000)).toBe(true);
    const commands = robot.counters.commands;
    // The episode's reset begins; the driver's states resume during it.
    const reset = raw.reset({ seed: 1 });
    await new Promise((r) => setTimeout(r, 50));
    void robot.run();
    await reset;
    expect(server.stats.commandsDuringReset).toBe(0);
    expect(raw.stats.resetRetries).toBe(0);
    expect(server.stats.resets).toBe(2);
    expect(robot.counters.commands).toBe(commands);
    expect(raw.stats.reconnects).toBe(1);
    expect((await raw.step(new Float32Array(7))).truncated).toBe(false);
  }, 20_000);

  it('a joint-state topic nobody publishes (a typo) and a reset service that does not exist fail at connect, naming them', async () => {
    const { server } = await served('realtime');
    await expect(rosEnv(server.url, { jointStateTopic: '/joint_state' })).rejects.toThrow(/joint-state topic \/joint_state is not published/);
    await expect(rosEnv(server.url, { resetService: '/rest' })).rejects.toThrow(/reset service \/rest does not exist/);
    // The right names connect.
    const env = await rosEnv(server.url, { resetService: '/reset' });
    expect(env.connected).toBe(true);
  });

  it('connecting to a URL with no rosbridge fails clearly and quickly', async () => {
    await expect(rosEnv('ws://127.0.0.1:1', { connectTimeoutMs: 2000 })).rejects.toThrow(/cannot connect to ws:\/\/127\.0\.0\.1:1/);
  });
});

import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { TimeLimit } from '../../control/wrappers/time-limit.js';
import { countSuccesses } from '../../test/episodes.js';
import { cleanup, servedRos } from '../../test/robot-fixtures.js';
import { pandaReachExpert } from '../../sim/tasks/panda-reach.js';
import type { SimulatedRobot } from '../emulator/sim-robot.js';
import { robotTask } from '../task.js';
import { matchJointState } from './messages.js';
import { RosbridgeServer } from './rosbridge-server.js';
import { RosRobotEnv, type RosLinkConfig } from './ros-env.js';

const COMMAND = { topic: '/joint_group_position_controller/command', type: 'std_msgs/Float64MultiArray' } as const;
async function served(mode: 'lockstep' | 'realtime', port = 0): Promise<{ robot: SimulatedRobot; server: RosbridgeServer }> {
  return servedRos(mode, { port });
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

  it('answers malformed and unsupported messages with a status error and never forwards them to the robot', async () => {
    const { server, robot } = await served('lockstep');
    const { ws, next } = await rawClient(server.url);
    const bad = [
      'not json',
      JSON.stringify({ no: 'op' }),
      JSON.stringify({ op: 'fly' }),
      JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { data: [0, 0, 0] } }),
      JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { data: [0, 0, 0, 0, 0, 0, null] } }),
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
    // A good command in trajectory form, matched by joint name (given in reverse order).
    const names = [...robot.jointNames].reverse();
    ws.send(JSON.stringify({ op: 'publish', topic: COMMAND.topic, msg: { joint_names: names, points: [{ positions: names.map((_, i) => 0.01 * i) }] } }));
    ws.send(JSON.stringify({ op: 'call_service', id: 'r1', service: '/reset', args: {} }));
    const resp = await next();
    expect(resp).toMatchObject({ op: 'service_response', id: 'r1', result: true, values: { success: true } });
    expect(robot.counters.commands).toBe(1);
  });
});

describe('ROS robot env (roslib 2 over a real WebSocket)', () => {
  it('runs the task end to end: the scripted expert reaches its goals, with observation ages reported', async () => {
    const { server } = await served('realtime');
    const env = new TimeLimit(await rosEnv(server.url, { resetService: '/reset' }), 50);
    const ages: number[] = [];
    expect(await countSuccesses(env, pandaReachExpert(), [0, 1, 2], (r) => ages.push(r.info.obsAgeMs ?? Number.NaN))).toBe(3);
    for (const age of ages) {
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(1000);
    }
  });

  it('commands as geometry_msgs/Twist (Cartesian servoing): the same expert still reaches its goals', async () => {
    const { server, robot } = await served('realtime');
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
    // A new server on the same port brings the link back.
    const again = await RosbridgeServer.start(robot, { port });
    cleanup.push(() => again.close());
    const deadline = performance.now() + 5000;
    while (!raw.connected && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(raw.connected).toBe(true);
    expect(raw.stats.reconnects).toBeGreaterThanOrEqual(1);
    await env.reset({ seed: 2 });
    r = await env.step(new Float32Array(7));
    expect(r.truncated).toBe(false);
    expect(logs.join('\n')).toMatch(/reconnecting in \d+ ms/);
  }, 20_000);

  it('connecting to a URL with no rosbridge fails clearly and quickly', async () => {
    await expect(rosEnv('ws://127.0.0.1:1', { connectTimeoutMs: 2000 })).rejects.toThrow(/cannot connect to ws:\/\/127\.0\.0\.1:1/);
  });
});

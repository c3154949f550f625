import { MessageChannel } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Transition } from '../../control/transition.js';
import { haveRedis, RedisServer, withRedis } from '../../test/redis-fixture.js';
import { packTransitions } from './packing.js';
import { Rng } from '../../control/rng.js';
import { RescaleAction } from '../../control/wrappers/action-transforms.js';
import { EpisodeStatistics } from '../../control/wrappers/episode-statistics.js';
import { make } from '../../tasks/registry.js';
import { selectBackend } from '../backend.js';
import { resolveSacConfig, SacConfigSchema } from '../sac/config.js';
import { SacLearner } from '../sac/sac.js';
import { runActor } from './actor-loop.js';
import { RedisActorTransport, RedisLearnerTransport, redisKeys } from './redis.js';
import { encodeSnapshot } from './snapshot-codec.js';
import { flowControlBuffer, ThreadsActorTransport, ThreadsLearnerTransport } from './threads.js';
import type { ActorTransport, Delivery, LearnerTransport } from './transport.js';

const dims = { obsDim: 3, actDim: 1, costDim: 0 };
const step = (i: number): Transition => ({ obs: Float32Array.of(i, 0, 1), action: Float32Array.of(0.1), reward: -i, costs: new Float32Array(0), nextObs: Float32Array.of(i + 1, 0, 1), terminated: false, truncated: false });
const batch = (actorId: string, seq: number, n = 4): Uint8Array => packTransitions({ actorId, episodeId: 0, policyVersion: seq, seq }, dims, Array.from({ length: n }, (_, i) => step(seq * n + i)));

async function receiveAll(l: LearnerTransport, n: number, ms = 10_000): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const deadline = performance.now() + ms;
  while (got.length < n && performance.now() < deadline) got.push(...(await l.receive(50)));
  return got;
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Pair {
  learner: LearnerTransport;
  actor(id: string): Promise<ActorTransport>;
  close(): Promise<void>;
}

let redis: RedisServer | null = null;
beforeAll(async () => {
  if (!haveRedis()) throw new Error('these tests need redis-server (apt-get install redis-server); .ci/run installs it');
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.down();
});
let prefixes = 0;

const TRANSPORTS: Record<string, () => Promise<Pair>> = {
  threads: async () => {
    const shared = flowControlBuffer();
    const learner = new ThreadsLearnerTransport([], shared);
    const ports: MessageChannel[] = [];
    return {
      learner,
      actor: async () => {
        const ch = new MessageChannel();
        ports.push(ch);
        learner.attach(ch.port1);
        return new ThreadsActorTransport(ch.port2, shared);
      },
      close: async () => ports.forEach((p) => (p.port1.close(), p.port2.close())),
    };
  },
  redis: async () => {
    const prefix = `t${prefixes++}`;
    const url = (redis as RedisServer).url;
    const learner = await RedisLearnerTransport.open({ url, prefix });
    const actors: ActorTransport[] = [];
    return {
      learner,
      actor: async (id) => {
        const a = await RedisActorTransport.open({ url, prefix, actorId: id });
        actors.push(a);
        return a;
      },
      close: async () => {
        await Promise.all(actors.map((a) => a.close()));
        await learner.close();
      },
    };
  },
};

const open: Pair[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

describe.each(Object.keys(TRANSPORTS))('transport contract: %s', (name) => {
  const make = async (): Promise<Pair> => {
    const p = await (TRANSPORTS[name] as () => Promise<Pair>)();
    open.push(p);
    return p;
  };

  it('batches from several actors arrive intact, each actor’s in order', async () => {
    const p = await make();
    await p.learner.allowInserts(1000);
    const [a, b] = [await p.actor('a'), await p.actor('b')];
    for (let s = 0; s < 5; s++) {
      await a.send(batch('a', s), 4);
      await b.send(batch('b', s), 4);
    }
    const got = await receiveAll(p.learner, 10);
    expect(got.length).toBe(10);
    for (const id of ['a', 'b']) {
      const mine = got.filter((d) => d.batch.actorId === id);
      expect(mine.map((d) => d.batch.seq)).toEqual([0, 1, 2, 3, 4]);
      expect(mine.map((d) => d.batch.transitions.map((t) => t.reward)).flat()).toEqual(Array.from({ length: 20 }, (_, i) => (i === 0 ? -0 : -i)));
    }
    for (const d of got) await d.ack();
  });

  it('actors keep only the newest parameters', async () => {
    const p = await make();
    const a = await p.actor('a');
    for (let v = 1; v <= 5; v++) await p.learner.publish({ version: v, bytes: Uint8Array.of(v, v, v) });
    await until(() => a.params()?.version === 5);
    expect(Array.from(a.params()?.bytes ?? [])).toEqual([5, 5, 5]);
    // An older announcement never replaces a newer one.
    await p.learner.publish({ version: 3, bytes: Uint8Array.of(3) });
    await new Promise((r) => setTimeout(r, 100));
    expect(a.params()?.version).toBe(5);
    // A late actor finds the newest (Redis keeps it; threads send it to every attached port).
    if (name === 'redis') expect((await p.actor('late')).params()?.version).toBe(5);
  });

  it('flow control: an actor waits while the allowance is spent, and goes on when the learner raises it', async () => {
    const p = await make();
    await p.learner.allowInserts(8);
    const a = await p.actor('a');
    await a.send(batch('a', 0), 4);
    await a.send(batch('a', 1), 4);
    let third = false;
    const sending = a.send(batch('a', 2), 4).then(() => (third = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(third).toBe(false);
    expect((await receiveAll(p.learner, 2)).length).toBe(2);
    await p.learner.allowInserts(12);
    await sending;
    expect((await receiveAll(p.learner, 1)).map((d) => d.batch.seq)).toEqual([2]);
  });
});

describe('Redis faults (a real redis-server)', () => {
  it('a learner that restarts gets again what it was delivered but never acknowledged, and not what it acknowledged', async () => {
    const url = (redis as RedisServer).url;
    const prefix = `restart${prefixes++}`;
    let learner = await RedisLearnerTransport.open({ url, prefix });
    await learner.allowInserts(100);
    const a = await RedisActorTransport.open({ url, prefix, actorId: 'a' });
    for (let s = 0; s < 4; s++) await a.send(batch('a', s), 4);
    const first = await receiveAll(learner, 4);
    await first[0]?.ack();
    await first[1]?.ack();
    await learner.close(); // killed before acknowledging seq 2 and 3
    learner = await RedisLearnerTransport.open({ url, prefix });
    await a.send(batch('a', 4), 4);
    const again = await receiveAll(learner, 3);
    expect(again.map((d) => d.batch.seq)).toEqual([2, 3, 4]);
    for (const d of again) await d.ack();
    expect(Number((redis as RedisServer).cli('XLEN', redisKeys(prefix, 'main').stream))).toBe(0);
    await a.close();
    await learner.close();
  });

  it('Redis killed and restarted with AOF: nothing acknowledged comes back, nothing unacknowledged is lost; an actor sending meanwhile waits, says so, and delivers', async () => {
    await withRedis({ aof: true }, async (server) => {
      const prefix = 'aof';
      const lines: string[] = [];
      const learner = await RedisLearnerTransport.open({ url: server.url, prefix, log: (l) => lines.push(l) });
      await learner.allowInserts(1000);
      const a = await RedisActorTransport.open({ url: server.url, prefix, actorId: 'a', log: (l) => lines.push(l) });
      for (let s = 0; s < 6; s++) await a.send(batch('a', s), 4);
      const got = await receiveAll(learner, 6);
      for (const d of got.slice(0, 3)) await d.ack();
      await server.down();
      // While Redis is down the actor's next batch waits (and is reported), it is not dropped.
      let sent = false;
      const sending = a.send(batch('a', 6), 4).then(() => (sent = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(sent).toBe(false);
      await server.up();
      await sending;
      expect(lines.some((l) => /retrying/.test(l))).toBe(true);
      const learner2 = await RedisLearnerTransport.open({ url: server.url, prefix });
      const after = await receiveAll(learner2, 4);
      expect(after.map((d) => d.batch.seq)).toEqual([3, 4, 5, 6]);
      await a.close();
      await learner.close();
      await learner2.close();
    });
  }, 60_000);

  it('a full Redis (maxmemory, noeviction) refuses XADD: the actor backs off, says so, and delivers once there is room', async () => {
    await withRedis({ extra: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] }, async (server) => {
      const lines: string[] = [];
      const learner = await RedisLearnerTransport.open({ url: server.url, prefix: 'full' });
      await learner.allowInserts(1e9);
      const a = await RedisActorTransport.open({ url: server.url, prefix: 'full', actorId: 'a', log: (l) => lines.push(l) });
      // Fill it up with big batches until a send stalls.
      let seq = 0;
      let stalled = false;
      while (!stalled) {
        const s = seq++;
        const p = a.send(batch('a', s, 2000), 2000);
        stalled = await Promise.race([p.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 1000))]);
        if (stalled) {
          expect(lines.some((l) => /OOM/.test(l) && /retrying/.test(l))).toBe(true);
          server.cli('CONFIG', 'SET', 'maxmemory', '0');
          await p;
        }
      }
      const got = await receiveAll(learner, seq);
      expect(got.map((d) => d.batch.seq)).toEqual(Array.from({ length: seq }, (_, i) => i));
      await a.close();
      await learner.close();
    });
  }, 60_000);

  it('a password-protected Redis: the right password works; a wrong one fails at once with Redis\'s error, not a retry loop', async () => {
    await withRedis({ extra: ['--requirepass', 's3cret'] }, async (server) => {
      const ok = await RedisLearnerTransport.open({ url: server.url, prefix: 'auth', password: 's3cret' });
      await ok.allowInserts(4);
      const a = await RedisActorTransport.open({ url: server.url, prefix: 'auth', actorId: 'a', password: 's3cret' });
      await a.send(batch('a', 0), 4);
      expect((await receiveAll(ok, 1)).length).toBe(1);
      await a.close();
      await ok.close();
      await expect(RedisLearnerTransport.open({ url: server.url, prefix: 'auth', password: 'wrong' })).rejects.toThrow(/WRONGPASS|invalid username-password/);
    });
  });

  it('an actor adopts a restarted learner’s parameters even when their version is lower (a learner resumed from an older checkpoint)', async () => {
    const url = (redis as RedisServer).url;
    await selectBackend('wasm');
    const config = resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', hidden: [8] }));
    const sac = new SacLearner(config, 3, 1, new Rng(0));
    const snapshot = (version: number): Uint8Array => encodeSnapshot({ ...sac.snapshot(), version });
    const prefix = `adopt${prefixes++}`;
    let learner = await RedisLearnerTransport.open({ url, prefix, run: 'r' });
    await learner.allowInserts(1e6);
    await learner.publish({ version: 5, bytes: snapshot(5) });
    const transport = await RedisActorTransport.open({ url, prefix, actorId: 'a' });
    const env = await make('Pendulum-v1', { timeLimit: true });
    const abort = new AbortController();
    const acting = runActor({ env: new EpisodeStatistics(new RescaleAction(env)), transport, actorId: 'a', epoch: transport.epoch, seed: 1, sendEvery: 10, learning: { learnFrom: 'executed', correctionPenalty: 0 }, signal: abort.signal }).catch(() => undefined);
    const versions = async (l: RedisLearnerTransport, want: number): Promise<void> => {
      const deadline = performance.now() + 20_000;
      while (performance.now() < deadline) {
        for (const d of await l.receive(50)) {
          await d.ack();
          if (d.batch.transitions.some((t) => t.policyVersion === want)) return;
        }
      }
      throw new Error(`no transition acted with version ${want}`);
    };
    await versions(learner, 5);
    await learner.close();
    learner = await RedisLearnerTransport.open({ url, prefix, run: 'r' });
    await learner.publish({ version: 2, bytes: snapshot(2) });
    await versions(learner, 2);
    abort.abort();
    await acting;
    await env.close();
    await transport.close();
    await learner.close();
    sac.dispose();
  }, 60_000);

  it('runs have keys of their own: a new learner never deletes another run’s stream, and a previous run’s end does not stop a new actor', async () => {
    const url = (redis as RedisServer).url;
    const prefix = `runs${prefixes++}`;
    const first = await RedisLearnerTransport.open({ url, prefix, run: 'first' });
    await first.begin({ inserted: 0, fresh: true });
    await first.allowInserts(100);
    const a = await RedisActorTransport.open({ url, prefix, actorId: 'a' });
    await a.send(batch('a', 0), 4);
    await first.finish();
    await a.close();
    // A second run of the same namespace: the first run's unread batch stays where it was.
    const second = await RedisLearnerTransport.open({ url, prefix, run: 'second' });
    await second.begin({ inserted: 0, fresh: true });
    expect(Number((redis as RedisServer).cli('XLEN', redisKeys(prefix, 'first').stream))).toBe(1);
    await second.finish();
    // An actor started after that run ended waits for the next one and sends to it.
    const opening = RedisActorTransport.open({ url, prefix, actorId: 'b' });
    await new Promise((r) => setTimeout(r, 300));
    const third = await RedisLearnerTransport.open({ url, prefix, run: 'third' });
    await third.begin({ inserted: 0, fresh: true });
    await third.allowInserts(100);
    const b = await opening;
    expect(b.finished()).toBe(false);
    await b.send(batch('b', 0), 4);
    expect((await receiveAll(third, 1)).map((d) => d.batch.actorId)).toEqual(['b']);
    await b.close();
    for (const l of [first, second, third]) await l.close();
  }, 30_000);

  it('a restarted actor id gets a new epoch, also after Redis lost its counter (the learner knows a later one)', async () => {
    await withRedis({}, async (server) => {
      const learner = await RedisLearnerTransport.open({ url: server.url, prefix: 'epochs' });
      const first = await RedisActorTransport.open({ url: server.url, prefix: 'epochs', actorId: 'a' });
      const again = await RedisActorTransport.open({ url: server.url, prefix: 'epochs', actorId: 'a' });
      expect(again.epoch).toBeGreaterThan(first.epoch);
      await first.close();
      await again.close();
      server.cli('FLUSHALL');
      await learner.begin({ inserted: 0, fresh: false, epochs: new Map([['a', 7]]) });
      const third = await RedisActorTransport.open({ url: server.url, prefix: 'epochs', actorId: 'a' });
      expect(third.epoch).toBe(8);
      await third.close();
      await learner.close();
    });
  }, 30_000);

  it('a corrupt entry is counted and dropped, never applied', async () => {
    const url = (redis as RedisServer).url;
    const learner = await RedisLearnerTransport.open({ url, prefix: 'corrupt' });
    (redis as RedisServer).cli('XADD', redisKeys('corrupt', 'main').stream, '*', 'actor', 'x', 'n', '7', 'data', 'garbage');
    expect(await receiveAll(learner, 1, 500)).toEqual([]);
    expect(learner.corrupt).toBe(1);
    // Its window goes back to the actors (the envelope said 7 transitions).
    expect(learner.takeUndeliverable()).toEqual({ batches: 1, transitions: 7 });
    await learner.close();
  });
});

describe('threads faults', () => {
  it('what an actor thread reserved from the window and never posted (killed in between) comes back when the thread is gone', async () => {
    const shared = flowControlBuffer();
    const learner = new ThreadsLearnerTransport([], shared);
    const dyingChannel = new MessageChannel();
    learner.attach(dyingChannel.port1, 3);
    // A thread killed after counting its batch and before posting it.
    const port = dyingChannel.port2;
    const dying = new ThreadsActorTransport({ on: port.on.bind(port), postMessage: () => { throw new Error('terminated'); } }, shared, 3);
    await learner.begin({ inserted: 0, fresh: true });
    await learner.allowInserts(8);
    await expect(dying.send(batch('a', 0), 8)).rejects.toThrow(/terminated/);
    const otherChannel = new MessageChannel();
    learner.attach(otherChannel.port1, 4);
    const other = new ThreadsActorTransport(otherChannel.port2, shared, 4);
    let sent = false;
    const sending = other.send(batch('b', 0), 4).then(() => (sent = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(sent).toBe(false); // the window is spent on the lost batch
    learner.detach(dyingChannel.port1, 3); // its thread exited
    await sending;
    expect((await receiveAll(learner, 1)).map((d) => d.batch.actorId)).toEqual(['b']);
    for (const c of [dyingChannel, otherChannel]) (c.port1.close(), c.port2.close());
  });
});

import { createClient, RESP_TYPES } from 'redis';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorruptBatchError, unpackTransitions } from './packing.js';
import { newer, type ActorTransport, type Delivery, type LearnerStart, type LearnerTransport, type ParamsMessage } from './transport.js';

export interface RedisOptions {
  /** redis://host:port (rediss:// for TLS). Default redis://127.0.0.1:6379. */
  readonly url?: string;
  readonly username?: string;
  readonly password?: string;
  /** Keys live under `roborl:<prefix>:` (see {@link redisKeys}). */
  readonly prefix: string;
  /** Problems worth telling a person (the broker is unreachable, full, or refusing). */
  readonly log?: (line: string) => void;
}

type Client = ReturnType<typeof binaryClient>;
type Reply = Buffer | string | number | null | Reply[] | { [k: string]: Reply };

function binaryClient(o: RedisOptions) {
  const client = createClient({
    url: o.url ?? 'redis://127.0.0.1:6379',
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
    // Reconnect forever with backoff (capped at 2 s): a restarting Redis must not end a run.
    socket: { reconnectStrategy: (retries: number) => Math.min(2000, 50 * 2 ** Math.min(retries, 6)) },
  });
  return client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}

/**
 * Connects, reporting (not throwing) errors the client emits while it reconnects — except a
 * refused login, which no retry fixes: that fails at once with Redis's message.
 */
async function connect(o: RedisOptions): Promise<Client> {
  const client = binaryClient(o);
  let reported = 0;
  let refuse: (err: Error) => void = () => {};
  const refused = new Promise<never>((_, reject) => (refuse = reject));
  refused.catch(() => {});
  client.on('error', (err: Error) => {
    if (/WRONGPASS|NOAUTH|invalid username-password|NOPERM/i.test(err.message)) refuse(err);
    else if (reported++ % 20 === 0) o.log?.(`redis ${o.url ?? 'redis://127.0.0.1:6379'}: ${err.message} (retrying)`);
  });
  try {
    await Promise.race([client.connect(), refused]);
  } catch (err) {
    client.destroy();
    throw new Error(`redis ${o.url ?? 'redis://127.0.0.1:6379'}: ${(err as Error).message} (check distributed.redis.username / password)`, { cause: err });
  }
  return client;
}

/**
 * Key layout. A namespace `roborl:<prefix>:` (the prefix defaults to the config's name and seed)
 * holds the pointer to the current run, the announcement channel and each actor id's
 * incarnation counter; every run's data lives under `roborl:<prefix>:run:<run>:`. A new run
 * gets keys of its own and never deletes another run's.
 */
export function redisKeys(prefix: string, run: string) {
  const ns = `roborl:${prefix}`;
  const r = `${ns}:run:${run}`;
  return {
    current: `${ns}:current`,
    channel: `${ns}:announce`,
    epoch: (actorId: string) => `${ns}:epoch:${actorId}`,
    stream: `${r}:transitions`,
    params: `${r}:params`,
    allowed: `${r}:allowed`,
    done: `${r}:done`,
    sent: `${r}:sent`,
  };
}
type Keys = ReturnType<typeof redisKeys>;
const GROUP = 'learner';
/** Runs are named by letters, digits, ".", "_" and "-" (they go into key names and announcements). */
const RUN_ID = /^[A-Za-z0-9._-]{1,128}$/;

const text = (r: Reply | undefined): string => (Buffer.isBuffer(r) ? r.toString() : String(r));

/**
 * Reserve and send in one step (a script runs atomically): the batch is added to the stream only
 * if the run is not over and the window has room, and then the send counter moves with it — so
 * no count is ever taken for a batch that is not in the stream. Returns 1 (sent), 0 (no room),
 * −1 (the run is over).
 */
const SEND_SCRIPT = `
if redis.call('GET', KEYS[4]) == '1' then return -1 end
local allowed = tonumber(redis.call('GET', KEYS[1]) or '0')
local sent = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[1])
if sent + n > allowed then return 0 end
redis.call('INCRBY', KEYS[2], n)
redis.call('XADD', KEYS[3], '*', 'actor', ARGV[2], 'epoch', ARGV[4], 'n', ARGV[1], 'data', ARGV[3])
return 1`;

/** Raises a counter to at least ARGV[1] (a learner that knows of later incarnations than a wiped Redis does). */
const RAISE_SCRIPT = `
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/**
 * The learner's end over Redis Streams: actors add packed batches to the run's stream; the
 * learner reads through the consumer group `learner` and acknowledges (XACK, then XDEL to keep
 * the stream short) only when told to — the distributed learner does so once a checkpoint holds
 * the batch. On start it first claims (XAUTOCLAIM) what earlier learners were delivered but never
 * acknowledged, so a learner killed between checkpoints loses nothing.
 * Parameters: SET (so a late actor finds them) and PUBLISH of (generation, version) — actors
 * fetch the newest only, and a restarted learner's generation supersedes the old one's. Flow
 * control: the allowance is a key actors read.
 */
export class RedisLearnerTransport implements LearnerTransport {
  private readonly k: Keys;
  private pendingFirst = true;
  /** Where the claim of earlier learners' pending entries has got to. */
  private claimCursor = '0-0';
  private lastPublished = -1;
  /** One consumer name per learner start; a restarted learner claims its predecessor's pending entries. */
  private readonly consumer: string;
  private undeliverable = { batches: 0, transitions: 0 };
  /** Entries that failed to decode (acknowledged and dropped: they can never be applied). */
  corrupt = 0;
  /** Entries claimed from an earlier learner that never acknowledged them. */
  reclaimed = 0;

  private constructor(
    private readonly client: Client,
    private readonly o: RedisOptions & { readonly run: string },
    /** This learner's start: parameters are ordered by (generation, version), so a restarted learner's are adopted. */
    readonly generation: number,
  ) {
    this.k = redisKeys(o.prefix, o.run);
    this.consumer = `learner-${generation}`;
  }

  /**
   * Connects for run `run` (default "main"; `roborl learner` names it after the run folder) and
   * makes it the namespace's current run, which actors join.
   */
  static async open(o: RedisOptions & { readonly run?: string }): Promise<RedisLearnerTransport> {
    const run = o.run ?? 'main';
    if (!RUN_ID.test(run)) throw new RangeError(`Expected a run id of letters, digits, ".", "_" and "-", got \`${run}\``);
    const client = await connect(o);
    const k = redisKeys(o.prefix, run);
    // Strictly after any learner of this run before (whatever the clocks say), so actors adopt this one's parameters.
    const previous = (await client.sendCommand(['GETRANGE', k.params, '0', '7'])) as Reply;
    const before = Buffer.isBuffer(previous) && previous.length === 8 ? previous.readDoubleLE(0) : 0;
    const t = new RedisLearnerTransport(client, { ...o, run }, Math.max(Date.now(), Number.isFinite(before) ? before + 1 : 0));
    try {
      await client.sendCommand(['XGROUP', 'CREATE', t.k.stream, GROUP, '0', 'MKSTREAM']);
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    await t.command(['SET', k.current, run]);
    await t.command(['PUBLISH', k.channel, `run ${run}`]);
    return t;
  }

  async receive(waitMs: number): Promise<Delivery[]> {
    const entries = this.pendingFirst ? await this.pending() : await this.fresh(waitMs);
    return entries.flatMap(([id, fields]) => this.delivery(id, fields));
  }

  /**
   * Entries delivered to an earlier learner and never acknowledged (it was killed between
   * checkpoints): claimed into this one with XAUTOCLAIM, page by page, before anything new.
   */
  private async pending(): Promise<[string, Reply[]][]> {
    const reply = (await this.command(['XAUTOCLAIM', this.k.stream, GROUP, this.consumer, '0', this.claimCursor, 'COUNT', '256'])) as Reply[];
    this.claimCursor = text(reply[0]);
    const entries = parseEntryList(reply[1]);
    this.reclaimed += entries.length;
    if (this.claimCursor === '0-0') {
      this.pendingFirst = false;
      if (this.reclaimed) this.o.log?.(`redis: claimed ${this.reclaimed} batch(es) an earlier learner received but never acknowledged`);
    }
    return entries;
  }

  private async fresh(waitMs: number): Promise<[string, Reply[]][]> {
    const block = waitMs > 0 ? ['BLOCK', String(Math.max(1, Math.round(waitMs)))] : [];
    return parseEntries(await this.command(['XREADGROUP', 'GROUP', GROUP, this.consumer, 'COUNT', '256', ...block, 'STREAMS', this.k.stream, '>']));
  }

  private delivery(id: string, fields: Reply[]): Delivery[] {
    const ack = async (): Promise<void> => {
      await this.command(['XACK', this.k.stream, GROUP, id]);
      await this.command(['XDEL', this.k.stream, id]);
    };
    const data = fieldValue(fields, 'data');
    try {
      if (!Buffer.isBuffer(data)) throw new CorruptBatchError('entry has no data field');
      return [{ id, batch: unpackTransitions(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), ack }];
    } catch (err) {
      if (!(err instanceof CorruptBatchError)) throw err;
      this.corrupt++;
      this.undeliverable.batches++;
      // The envelope's count (set by the send script) says how much window the entry took.
      const n = Number(text(fieldValue(fields, 'n')));
      if (Number.isInteger(n) && n > 0 && n <= 1_000_000) this.undeliverable.transitions += n;
      this.o.log?.(`redis: dropping entry ${id}: ${err.message}`);
      ack().catch((e: Error) => this.o.log?.(`redis: acknowledging corrupt entry ${id} failed (it will be dropped again): ${e.message}`));
      return [];
    }
  }

  async publish(params: ParamsMessage): Promise<void> {
    // Parameters only move forward within a learner's life.
    if (params.version <= this.lastPublished) return;
    this.lastPublished = params.version;
    const header = Buffer.alloc(16);
    header.writeDoubleLE(this.generation, 0);
    header.writeDoubleLE(params.version, 8);
    await this.command(['SET', this.k.params, Buffer.concat([header, Buffer.from(params.bytes)])]);
    await this.command(['PUBLISH', this.k.channel, `params ${this.o.run} ${this.generation} ${params.version}`]);
  }

  async begin(start: LearnerStart): Promise<void> {
    if (start.fresh) {
      // A new run of this id (a run folder made again) must not learn from what an earlier one left.
      await this.command(['DEL', this.k.stream, this.k.params, this.k.allowed, this.k.done]);
      await this.command(['XGROUP', 'CREATE', this.k.stream, GROUP, '0', 'MKSTREAM']);
      this.pendingFirst = false;
    }
    // A Redis that lost its counters (no AOF) must still give restarted actors new incarnations.
    for (const [actorId, epoch] of start.epochs ?? []) await this.command(['EVAL', RAISE_SCRIPT, '1', this.k.epoch(actorId), String(epoch)]);
    await this.command(['SET', this.k.sent, String(start.inserted)]);
    await this.command(['DEL', this.k.done]);
    await this.command(['SET', this.k.current, this.o.run]);
    await this.command(['PUBLISH', this.k.channel, `run ${this.o.run}`]);
  }

  async allowInserts(total: number): Promise<void> {
    await this.command(['SET', this.k.allowed, String(total)]);
  }

  takeUndeliverable(): { batches: number; transitions: number } {
    const n = this.undeliverable;
    this.undeliverable = { batches: 0, transitions: 0 };
    return n;
  }

  async finish(): Promise<void> {
    await this.command(['SET', this.k.done, '1']);
    await this.command(['PUBLISH', this.k.channel, `done ${this.o.run}`]);
  }

  /**
   * A command, retried while Redis is unreachable (a restart); other errors throw. A retried
   * command may have run with its reply lost — XREADGROUP then left entries in this learner's
   * pending list that it never saw — so the next receive re-reads the pending list first.
   */
  private command(args: (string | Buffer)[]): Promise<Reply> {
    return retrying(() => this.client.sendCommand(args) as Promise<Reply>, this.o, args[0] as string, undefined, () => {
      this.pendingFirst = true;
      this.claimCursor = '0-0';
    });
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.destroy());
  }
}

/**
 * An actor's end over Redis. On open it takes a new incarnation (INCR of its id's counter: the
 * learner's de-duplication key is (actor, epoch, seq), so a restarted actor's sequence numbers
 * never collide with its predecessor's) and joins the namespace's current run — waiting for a
 * learner if there is none, or if the current run is already over (a previous run's end does
 * not stop a new actor). It follows the current run when a new learner starts one.
 * Sending reserves window and adds the batch in one atomic step (a script), waiting while the
 * learner's allowance is spent. A refusing or unreachable Redis (OOM, a restart) is retried
 * with backoff and reported — a batch is never dropped. Parameters: subscribed announcements,
 * then GET of the newest blob (older announcements are skipped: conflation), and a look every
 * second in case an announcement was missed while Redis was away.
 */
export class RedisActorTransport implements ActorTransport {
  private k: Keys;
  private newest: ParamsMessage | null = null;
  private fetching = false;
  private done = false;
  private lastLook = 0;
  waits = 0;

  private constructor(
    private readonly client: Client,
    private readonly subscriber: Client,
    private readonly o: RedisOptions & { readonly actorId: string },
    /** This incarnation of the actor id (1, 2, … per restart). */
    readonly epoch: number,
    /** The run this actor sends to. */
    public run: string,
  ) {
    this.k = redisKeys(o.prefix, run);
  }

  static async open(o: RedisOptions & { readonly actorId: string; readonly signal?: AbortSignal }): Promise<RedisActorTransport> {
    const client = await connect(o);
    const subscriber = await connect(o);
    try {
      const epoch = Number(await retrying(() => client.sendCommand(['INCR', redisKeys(o.prefix, 'x').epoch(o.actorId)]) as Promise<Reply>, o, 'INCR'));
      const run = await waitForRun(client, o);
      const t = new RedisActorTransport(client, subscriber, o, epoch, run);
      await subscriber.subscribe(t.k.channel, (message: Buffer | string) => t.onAnnounce(text(message)));
      await t.fetch();
      return t;
    } catch (err) {
      client.destroy();
      subscriber.destroy();
      throw err;
    }
  }

  private onAnnounce(message: string): void {
    const [kind, run, ...rest] = message.split(' ');
    if (kind === 'run' && run && run !== this.run && RUN_ID.test(run)) this.join(run);
    if (run !== this.run) return;
    if (kind === 'done') this.done = true;
    if (kind === 'run') this.done = false;
    if (kind === 'params') {
      const [generation, version] = rest.map(Number) as [number, number];
      if (newer(generation, version, this.newest)) void this.fetch().catch(() => {});
    }
  }

  /** A new learner started another run: send there from now on (its parameters replace the old run's). */
  private join(run: string): void {
    this.o.log?.(`actor ${this.o.actorId}: the learner started run ${run}; joining it`);
    this.run = run;
    this.k = redisKeys(this.o.prefix, run);
    this.newest = null;
    this.done = false;
    void this.fetch().catch(() => {});
  }

  private async fetch(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      const blob = (await retrying(() => this.client.sendCommand(['GET', this.k.params]) as Promise<Reply>, this.o, 'GET')) as Buffer | null;
      if (Buffer.isBuffer(blob) && blob.length > 16) {
        const [generation, version] = [blob.readDoubleLE(0), blob.readDoubleLE(8)];
        if (newer(generation, version, this.newest)) this.newest = { generation, version, bytes: new Uint8Array(blob.subarray(16)) };
      }
    } finally {
      this.fetching = false;
    }
  }

  /** Every second: the run's state and newest parameters, in case announcements were missed (Redis restarted). */
  private async look(signal?: AbortSignal): Promise<void> {
    if (performance.now() - this.lastLook < 1000) return;
    this.lastLook = performance.now();
    const current = text((await retrying(() => this.client.sendCommand(['GET', this.k.current]) as Promise<Reply>, this.o, 'GET', signal)) ?? '');
    if (current && current !== this.run && RUN_ID.test(current)) this.join(current);
    this.done = text((await retrying(() => this.client.sendCommand(['GET', this.k.done]) as Promise<Reply>, this.o, 'GET', signal)) as Reply) === '1';
    await this.fetch();
  }

  async send(bytes: Uint8Array, count: number, signal?: AbortSignal): Promise<void> {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let backoff = 10; ; backoff = Math.min(200, backoff * 2)) {
      signal?.throwIfAborted();
      await this.look(signal);
      if (this.done) return; // the run is over: the learner takes nothing more
      const k = this.k;
      const r = Number(await retrying(() => this.client.sendCommand(['EVAL', SEND_SCRIPT, '4', k.allowed, k.sent, k.stream, k.done, String(count), this.o.actorId, data, String(this.epoch)]) as Promise<Reply>, this.o, 'EVAL', signal));
      if (r === 1) return;
      if (r === -1) {
        this.done = true;
        return;
      }
      this.waits++;
      await sleep(backoff);
    }
  }

  params(): ParamsMessage | null {
    return this.newest;
  }

  finished(): boolean {
    return this.done;
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => this.subscriber.destroy());
    await this.client.quit().catch(() => this.client.destroy());
  }
}

/** The namespace's current run once there is one that is not over (polled; says once that it waits). */
async function waitForRun(client: Client, o: RedisOptions & { readonly signal?: AbortSignal }): Promise<string> {
  const k = redisKeys(o.prefix, 'x');
  for (let said = false; ; ) {
    o.signal?.throwIfAborted();
    const run = text((await retrying(() => client.sendCommand(['GET', k.current]) as Promise<Reply>, o, 'GET', o.signal)) ?? '');
    if (run && RUN_ID.test(run)) {
      const done = text((await retrying(() => client.sendCommand(['GET', redisKeys(o.prefix, run).done]) as Promise<Reply>, o, 'GET', o.signal)) as Reply) === '1';
      if (!done) return run;
    }
    if (!said) o.log?.(`redis: waiting for a learner to start a run under roborl:${o.prefix}:${run ? ` (run ${run} is over)` : ''}`);
    said = true;
    await sleep(200);
  }
}

/**
 * Runs `f`, retrying with backoff (up to 2 s apart) while Redis is unreachable or refuses for
 * lack of memory; says so every few attempts. Other errors (a wrong password, a bad command)
 * throw at once.
 */
async function retrying<T>(f: () => Promise<T>, o: RedisOptions, what: string, signal?: AbortSignal, onRetry?: () => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const message = (err as Error).message;
      // Our own close is final; a dropped connection, a restarting or full server is not.
      const transient = !/client is closed/i.test(message) && /OOM|LOADING|ECONNREFUSED|ECONNRESET|EPIPE|Socket closed|offline|connect|TRYAGAIN|BUSY|MASTERDOWN/i.test(message);
      if (!transient) throw err;
      onRetry?.();
      if (attempt % 10 === 0) o.log?.(`redis ${what}: ${message} — retrying (attempt ${attempt + 1}); nothing is dropped`);
      signal?.throwIfAborted();
      await sleep(Math.min(2000, 20 * 2 ** Math.min(attempt, 7)));
    }
  }
}

/** XREADGROUP's reply as [id, fields] pairs (RESP2 arrays or RESP3 maps). */
function parseEntries(reply: Reply): [string, Reply[]][] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) return reply.flatMap((stream) => parseEntryList((stream as Reply[])[1]));
  if (typeof reply === 'object' && !Buffer.isBuffer(reply)) return Object.values(reply).flatMap(parseEntryList);
  return [];
}

function parseEntryList(list: Reply | undefined): [string, Reply[]][] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((e) => (Array.isArray(e) && Array.isArray(e[1]) ? [[text(e[0]), e[1] as Reply[]] as [string, Reply[]]] : []));
}

function fieldValue(fields: Reply[], name: string): Reply | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (text(fields[i]) === name) return fields[i + 1];
  return undefined;
}

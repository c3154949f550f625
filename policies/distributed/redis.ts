import { createClient, RESP_TYPES } from 'redis';
import { setTimeout as sleep } from 'node:timers/promises';
import { CorruptBatchError, unpackTransitions } from './packing.js';
import { newer, type ActorTransport, type Delivery, type LearnerTransport, type ParamsMessage } from './transport.js';

export interface RedisOptions {
  /** redis://host:port (rediss:// for TLS). Default redis://127.0.0.1:6379. */
  readonly url?: string;
  readonly username?: string;
  readonly password?: string;
  /** Keys live under `roborl:<prefix>:`. */
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

const keys = (prefix: string) => ({
  stream: `roborl:${prefix}:transitions`,
  params: `roborl:${prefix}:params`,
  channel: `roborl:${prefix}:params-announce`,
  allowed: `roborl:${prefix}:allowed`,
  done: `roborl:${prefix}:done`,
  sent: `roborl:${prefix}:sent`,
});
const GROUP = 'learner';

const text = (r: Reply | undefined): string => (Buffer.isBuffer(r) ? r.toString() : String(r));

/**
 * The learner's end over Redis Streams: actors XADD packed batches to one stream; the learner
 * reads through the consumer group `learner` and acknowledges (XACK, then XDEL to keep the
 * stream short) only when told to — the distributed learner does so once a checkpoint holds the
 * batch. On start it first claims (XAUTOCLAIM) what earlier learners were delivered but never
 * acknowledged, so a learner killed between checkpoints loses nothing.
 * Parameters: SET (so a late actor finds them) and PUBLISH of (generation, version) — actors
 * fetch the newest only, and a restarted learner's generation supersedes the old one's. Flow control: the allowance is a key actors read.
 */
export class RedisLearnerTransport implements LearnerTransport {
  private readonly k: ReturnType<typeof keys>;
  private pendingFirst = true;
  /** Where the claim of earlier learners' pending entries has got to. */
  private claimCursor = '0-0';
  private lastPublished = -1;
  /** This learner's start: parameters are ordered by (generation, version), so a restarted learner's are adopted. */
  private readonly generation = Date.now();
  /** One consumer name per learner start; a restarted learner claims its predecessor's pending entries. */
  private readonly consumer = `learner-${this.generation}`;
  /** Entries that failed to decode (acknowledged and dropped: they can never be applied). */
  corrupt = 0;
  /** Entries claimed from an earlier learner that never acknowledged them. */
  reclaimed = 0;

  private constructor(
    private readonly client: Client,
    private readonly o: RedisOptions,
  ) {
    this.k = keys(o.prefix);
  }

  static async open(o: RedisOptions): Promise<RedisLearnerTransport> {
    const client = await connect(o);
    const t = new RedisLearnerTransport(client, o);
    try {
      await client.sendCommand(['XGROUP', 'CREATE', t.k.stream, GROUP, '0', 'MKSTREAM']);
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
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
      this.o.log?.(`redis: dropping entry ${id}: ${err.message}`);
      void ack();
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
    await this.command(['PUBLISH', this.k.channel, `${this.generation}:${params.version}`]);
  }

  async begin(inserted: number, fresh: boolean): Promise<void> {
    if (fresh) {
      // A new run must not learn from what an earlier run under the same keys left behind.
      await this.command(['DEL', this.k.stream, this.k.params, this.k.allowed]);
      await this.command(['XGROUP', 'CREATE', this.k.stream, GROUP, '0', 'MKSTREAM']);
      this.pendingFirst = false;
    }
    await this.command(['SET', this.k.sent, String(inserted)]);
    await this.command(['DEL', this.k.done]);
  }

  async allowInserts(total: number): Promise<void> {
    await this.command(['SET', this.k.allowed, String(total)]);
  }

  async finish(): Promise<void> {
    await this.command(['SET', this.k.done, '1']);
    await this.command(['PUBLISH', this.k.channel, 'done']);
  }

  /** A command, retried while Redis is unreachable (a restart); other errors throw. */
  private command(args: (string | Buffer)[]): Promise<Reply> {
    return retrying(() => this.client.sendCommand(args) as Promise<Reply>, this.o, args[0] as string);
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.destroy());
  }
}

/**
 * An actor's end over Redis: reserves allowance (INCRBY on the shared counter, waiting while the
 * learner's allowance is spent), then XADDs the packed batch with its actor id and sequence
 * number. A refusing or unreachable Redis (OOM, a restart) is retried with backoff and
 * reported — a batch is never dropped. Parameters: subscribed announcements, then GET of the
 * newest blob (older announcements are skipped: conflation).
 */
export class RedisActorTransport implements ActorTransport {
  private readonly k: ReturnType<typeof keys>;
  private newest: ParamsMessage | null = null;
  private fetching = false;
  private done = false;
  waits = 0;

  private constructor(
    private readonly client: Client,
    private readonly subscriber: Client,
    private readonly o: RedisOptions & { readonly actorId: string },
  ) {
    this.k = keys(o.prefix);
  }

  static async open(o: RedisOptions & { readonly actorId: string }): Promise<RedisActorTransport> {
    const client = await connect(o);
    const subscriber = await connect(o);
    const t = new RedisActorTransport(client, subscriber, o);
    await subscriber.subscribe(t.k.channel, (message: Buffer | string) => {
      if (text(message) === 'done') {
        t.done = true;
        return;
      }
      const [generation, version] = text(message).split(':').map(Number) as [number, number];
      if (newer(generation, version, t.newest)) void t.fetch();
    });
    await t.fetch();
    t.done = text((await client.sendCommand(['GET', t.k.done])) as Reply) === '1';
    return t;
  }

  private async fetch(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      const blob = (await retrying(() => this.client.sendCommand(['GET', this.k.params]) as Promise<Reply>, this.o, 'GET')) as Buffer | null;
      if (blob && blob.length > 16) {
        const [generation, version] = [blob.readDoubleLE(0), blob.readDoubleLE(8)];
        if (newer(generation, version, this.newest)) this.newest = { generation, version, bytes: new Uint8Array(blob.subarray(16)) };
      }
    } finally {
      this.fetching = false;
    }
  }

  async send(bytes: Uint8Array, count: number, signal?: AbortSignal): Promise<void> {
    const command = (args: (string | Buffer)[]): Promise<Reply> => retrying(() => this.client.sendCommand(args) as Promise<Reply>, this.o, args[0] as string, signal);
    for (let backoff = 10; ; backoff = Math.min(200, backoff * 2)) {
      signal?.throwIfAborted();
      if (this.done) return; // the run is over: the learner takes nothing more
      const allowed = Number(text((await command(['GET', this.k.allowed])) ?? '0'));
      const sent = Number(await command(['INCRBY', this.k.sent, String(count)]));
      if (sent <= allowed) break;
      await command(['DECRBY', this.k.sent, String(count)]);
      this.waits++;
      await sleep(backoff);
    }
    await command(['XADD', this.k.stream, '*', 'actor', this.o.actorId, 'data', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
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


/**
 * Runs `f`, retrying with backoff (up to 2 s apart) while Redis is unreachable or refuses for
 * lack of memory; says so every few attempts. Other errors (a wrong password, a bad command)
 * throw at once.
 */
async function retrying<T>(f: () => Promise<T>, o: RedisOptions, what: string, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const message = (err as Error).message;
      // Our own close is final; a dropped connection, a restarting or full server is not.
      const transient = !/client is closed/i.test(message) && /OOM|LOADING|ECONNREFUSED|ECONNRESET|EPIPE|Socket closed|offline|connect|TRYAGAIN|BUSY|MASTERDOWN/i.test(message);
      if (!transient) throw err;
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

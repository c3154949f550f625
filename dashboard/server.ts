import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { openLocalServer, requestPath, type LocalServer } from '../control/local-server.js';
import { teleopPage } from '../hil/devices/web.js';
import { parseRecord, type MetricRecord } from '../policies/metrics-log.js';
import { parseCameraQuery, SceneCameras, type CameraAnswer } from './cameras.js';
import { field, parseClientMessage, type RunRow, type ServerMessage } from './protocol.js';
import { RunIndex, SCENE_FILE } from './run-index.js';
import { JsonlTail, readSmallFile, type TailOptions } from './tail.js';

/** Longest scene line read (a `scene` line carries its meshes: ~60 bytes a vertex, so ~270k vertices). */
export const MAX_SCENE_LINE_BYTES = 16 * 2 ** 20;

export type { RunRow } from './protocol.js';

export interface DashboardOptions {
  /** The folder of run folders (searched 3 levels deep). */
  readonly runsDir: string;
  /** Default 127.0.0.1: runs, configs and the teleop relay stay on this machine unless configured. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Default: 16 random bytes, hex. */
  readonly token?: string;
  /** How often watched files are polled, ms. Default 250. */
  readonly pollMs?: number;
  readonly tail?: TailOptions;
  readonly log?: (line: string) => void;
}

const HERE = new URL('.', import.meta.url);
const MAX_CLIENT_MESSAGE = 64 * 1024;
const MAX_RECORDS_PER_MESSAGE = 20_000;
/** Reads of one watched file per poll (64 KB each by default, the event loop free between them): 8 MB. */
const MAX_READS_PER_POLL = 128;

interface Client {
  readonly ws: WebSocket;
  watched: Map<string, JsonlTail>;
  /** Watched runs whose metrics file is gone (reported once). */
  readonly gone: Set<string>;
  scene: { run: string; file: string; tail: JsonlTail } | null;
  /** A poll is under way (polls of one page never overlap: its tails read in order). */
  busy: boolean;
}

/**
 * `roborl dashboard`: one local HTTP + WebSocket server for a folder of runs. It serves the page
 * (bundled at start from dashboard/client.ts with uPlot and three.js out of node_modules: no CDN),
 * the run list (`/api/runs`), new metrics and scene lines as files grow (`/ws`), and relays the
 * teleop page of a run started with `--teleop web` (`/teleop/<run>/`). Every request needs the
 * token. Bad input on disk (a corrupt metrics line, a run folder deleted while open, a huge file)
 * and bad messages or URLs become problems shown in the page or 4xx answers; none of them stops
 * the server, and no file is read synchronously while it serves, so the teleop relay keeps pace.
 */
export class Dashboard {
  readonly stats = { refused: 0, badMessages: 0, badRequests: 0, clients: 0, relays: 0 };
  private readonly clients = new Set<Client>();
  private readonly index: RunIndex;
  private readonly cameras = new SceneCameras();
  private readonly timer: NodeJS.Timeout;

  /** Where to open the dashboard (token included). */
  readonly url: string;
  private readonly http: Server;

  private constructor(
    private readonly server: LocalServer,
    private readonly wss: WebSocketServer,
    private readonly o: DashboardOptions,
    private readonly files: { html: string; js: string; css: string; teleop: Buffer },
  ) {
    this.url = server.url;
    this.http = server.http;
    this.index = new RunIndex(o.runsDir, o.tail);
    this.timer = setInterval(() => this.poll(), o.pollMs ?? 250);
  }

  static async open(o: DashboardOptions): Promise<Dashboard> {
    const files = await bundleClient();
    const server = await openLocalServer(o);
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE });
    const d = new Dashboard(server, wss, o, files);
    const fail = (res: ServerResponse, err: unknown): void => {
      o.log?.(`dashboard: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(err as Error).message}\n`);
    };
    server.http.on('request', (req, res) => {
      try {
        d.onRequest(req, res).catch((err: unknown) => fail(res, err));
      } catch (err) {
        fail(res, err);
      }
    });
    server.http.on('upgrade', (req, socket, head) => {
      try {
        d.onUpgrade(req, socket as Socket, head);
      } catch (err) {
        o.log?.(`dashboard: ${(err as Error).message}`);
        (socket as Socket).end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    });
    return d;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }

  /** The run list (what `GET /api/runs` answers). */
  listRuns(): Promise<readonly RunRow[]> {
    return this.index.list();
  }

  private refuse(why: string): void {
    this.stats.refused++;
    if (this.stats.refused <= 10) this.o.log?.(`dashboard: refused ${why}`);
  }

  private badRequest(why: string): void {
    this.stats.badRequests++;
    if (this.stats.badRequests <= 10) this.o.log?.(`dashboard: bad request: ${why}`);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req.url);
    if (typeof path === 'string') {
      this.badRequest(path);
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad request: ${path}\n`);
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (path.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!this.server.authorized(req)) {
      this.refuse(`${path.pathname} from ${req.socket.remoteAddress} without a valid token`);
      res.writeHead(401, { 'content-type': 'text/plain' }).end('roborl dashboard: open the address printed in the terminal (it carries the token)\n');
      return;
    }
    const send = (type: string, body: string | Buffer): void => void res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    const [first, second, third, ...rest] = path.segments;
    if (path.pathname === '/') send('text/html; charset=utf-8', this.files.html);
    else if (path.pathname === '/app.js') send('text/javascript; charset=utf-8', this.files.js);
    else if (path.pathname === '/uplot.css') send('text/css; charset=utf-8', this.files.css);
    else if (path.pathname === '/api/runs') send('application/json', JSON.stringify({ runsDir: resolve(this.o.runsDir), runs: await this.index.list() }));
    else if (path.pathname === '/api/cameras' || path.pathname === '/api/camera') await this.cameraRoute(path.pathname, req.url ?? '/', res);
    else if (first === 'teleop' && second && third === '' && rest.length === 0) send('text/html; charset=utf-8', this.files.teleop);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  /**
   * `GET /api/cameras?run=ID` → `{cameras: [{name, width, height}]}` (none for a run without);
   * `GET /api/camera?run=ID&file=REC&episode=E&t=T&camera=NAME` → that frame as the camera saw
   * it, a PNG rendered from the recording (dashboard/cameras.ts). Malformed → 400, unknown → 404.
   */
  private async cameraRoute(pathname: string, target: string, res: ServerResponse): Promise<void> {
    const params = new URL(target, 'http://x').searchParams; // requestPath has parsed this target already
    const runs = params.getAll('run');
    const query = pathname === '/api/camera' ? parseCameraQuery(params) : runs.length === 1 && runs[0] ? { run: runs[0] } : 'run: expected one run id';
    if (typeof query === 'string') {
      this.badRequest(`${pathname}: ${query}`);
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad request: ${query}\n`);
      return;
    }
    const dir = await this.index.dirOf(query.run);
    const answer: CameraAnswer = !dir ? { status: 404, message: `no run ${query.run}` } : 'file' in query ? await this.cameras.render(dir, query) : await this.cameras.list(dir);
    if ('png' in answer) res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(answer.png);
    else if ('json' in answer) res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(answer.json));
    else res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(`${answer.message}\n`);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = requestPath(req.url);
    if (typeof path === 'string') {
      this.badRequest(`WebSocket: ${path}`);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [first, run, last, ...rest] = path.segments;
    const teleop = first === 'teleop' && run && last === 'ws' && rest.length === 0 ? run : null;
    if ((path.pathname !== '/ws' && !teleop) || !this.server.authorized(req)) {
      this.refuse(`WebSocket ${path.pathname} from ${req.socket.remoteAddress}${path.pathname === '/ws' || teleop ? ' without a valid token' : ''}`);
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (!teleop) return this.onClient(ws);
      this.relayTeleop(ws, teleop).catch((err: unknown) => {
        this.o.log?.(`dashboard: teleop relay for ${teleop}: ${(err as Error).message}`);
        ws.close(1011, 'relay failed');
      });
    });
  }

  // ---- live files -----------------------------------------------------------------------

  private onClient(ws: WebSocket): void {
    const client: Client = { ws, watched: new Map(), gone: new Set(), scene: null, busy: false };
    this.clients.add(client);
    this.stats.clients++;
    ws.on('message', (data, isBinary) => {
      // A failure answering one message is the page's problem to see, never the server's end.
      this.onClientMessage(client, data, isBinary).catch((err: unknown) => this.sendTo(client, { op: 'problem', message: `dashboard: ${(err as Error).message}` }));
    });
    ws.on('error', (err) => {
      this.stats.badMessages++;
      this.o.log?.(`dashboard: ${err.message}`);
    });
    ws.on('close', () => this.clients.delete(client));
  }

  private async onClientMessage(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    const msg = isBinary ? 'binary frames are not accepted' : parseClientMessage(data.toString());
    if (typeof msg === 'string') {
      this.stats.badMessages++;
      this.sendTo(client, { op: 'problem', message: `refused a message: ${msg}` });
      return;
    }
    switch (msg.op) {
      case 'watch': {
        const next = new Map<string, JsonlTail>();
        for (const id of msg.runs) {
          const dir = await this.index.dirOf(id);
          if (!dir) {
            this.sendTo(client, { op: 'problem', run: id, message: `no run ${id} under ${this.o.runsDir}` });
            continue;
          }
          next.set(id, client.watched.get(id) ?? new JsonlTail(join(dir, 'metrics.jsonl'), this.o.tail));
        }
        client.watched = next;
        break;
      }
      case 'scene': {
        const dir = await this.index.dirOf(msg.run);
        if (!dir || !SCENE_FILE.test(msg.file)) {
          this.sendTo(client, { op: 'problem', run: msg.run, message: `no recording ${msg.file} in run ${msg.run}` });
          return;
        }
        client.scene = { run: msg.run, file: msg.file, tail: new JsonlTail(join(dir, 'scenes', msg.file), { maxLineBytes: MAX_SCENE_LINE_BYTES, ...this.o.tail }) };
        break;
      }
      case 'unscene':
        client.scene = null;
        break;
    }
    await this.pollClient(client);
  }

  private poll(): void {
    for (const c of this.clients) void this.pollClient(c);
  }

  private async pollClient(c: Client): Promise<void> {
    if (c.busy || c.ws.bufferedAmount > 4 * 2 ** 20) return; // a slow page catches up before it gets more
    c.busy = true;
    try {
      for (const [run, tail] of c.watched) await this.pollMetrics(c, run, tail);
      if (c.scene) await this.pollScene(c, c.scene);
    } catch (err) {
      this.sendTo(c, { op: 'problem', message: `dashboard: ${(err as Error).message}` });
    } finally {
      c.busy = false;
    }
  }

  private async pollMetrics(c: Client, run: string, tail: JsonlTail): Promise<void> {
    for (let reads = 0; reads < MAX_READS_PER_POLL; reads++) {
      if (c.watched.get(run) !== tail) return; // unwatched meanwhile
      const r = await tail.read();
      for (const p of r.problems) this.sendTo(c, { op: 'problem', run, message: p });
      if (r.missing) {
        if (!c.gone.has(run)) this.sendTo(c, { op: 'problem', run, message: `run ${run}: metrics.jsonl is gone (the run folder was deleted or moved)` });
        c.gone.add(run);
        return;
      }
      c.gone.delete(run);
      const records: MetricRecord[] = [];
      const bad: string[] = [];
      for (const line of r.lines) {
        if (line.trim() === '') continue;
        const rec = parseRecord(line);
        if (typeof rec === 'string') bad.push(rec);
        else records.push(rec);
      }
      for (const b of bad.slice(0, 5)) this.sendTo(c, { op: 'problem', run, message: `metrics.jsonl: line skipped: ${b}` });
      if (bad.length > 5) this.sendTo(c, { op: 'problem', run, message: `metrics.jsonl: ${bad.length - 5} more bad lines skipped` });
      for (let i = 0; i < records.length || (i === 0 && r.reset); i += MAX_RECORDS_PER_MESSAGE) {
        this.sendTo(c, { op: 'records', run, reset: r.reset && i === 0, records: records.slice(i, i + MAX_RECORDS_PER_MESSAGE) });
      }
      if (!r.more || c.ws.bufferedAmount > 4 * 2 ** 20) return;
    }
  }

  private async pollScene(c: Client, scene: NonNullable<Client['scene']>): Promise<void> {
    for (let reads = 0; reads < MAX_READS_PER_POLL; reads++) {
      const r = await scene.tail.read();
      if (c.scene !== scene) return; // another recording chosen meanwhile
      for (const p of r.problems) this.sendTo(c, { op: 'problem', run: scene.run, message: p });
      if (r.missing) {
        this.sendTo(c, { op: 'problem', run: scene.run, message: `recording ${scene.file} is gone` });
        c.scene = null;
        return;
      }
      const lines: unknown[] = [];
      let bad = 0;
      for (const l of r.lines) {
        try {
          lines.push(JSON.parse(l));
        } catch {
          bad++;
        }
      }
      if (bad) this.sendTo(c, { op: 'problem', run: scene.run, message: `${scene.file}: ${bad} line(s) that are not JSON skipped` });
      if (lines.length || r.reset) this.sendTo(c, { op: 'scene-lines', run: scene.run, file: scene.file, reset: r.reset, lines });
      if (!r.more || c.ws.bufferedAmount > 4 * 2 ** 20) return;
    }
  }

  private sendTo(c: Client, msg: ServerMessage): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  }

  // ---- teleop relay ---------------------------------------------------------------------

  /** Pipes the page's teleop socket to the run's own teleop server (its address from teleop.json). */
  private async relayTeleop(page: WebSocket, id: string): Promise<void> {
    const fail = (message: string): void => {
      if (page.readyState === WebSocket.OPEN) page.send(JSON.stringify({ op: 'error', message }));
      page.close(4004, 'no teleop');
    };
    // The page may speak before the relay is up: hold (a few of) its messages.
    const queued: string[] = [];
    let upstream: WebSocket | null = null;
    page.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (upstream?.readyState === WebSocket.OPEN) upstream.send(text);
      else if ((!upstream || upstream.readyState === WebSocket.CONNECTING) && queued.length < 16) queued.push(text);
    });
    page.on('error', () => upstream?.terminate());
    page.on('close', () => upstream?.close());
    const dir = await this.index.dirOf(id);
    if (!dir) return fail(`no run ${id}`);
    const file = await readSmallFile(join(dir, 'teleop.json'), 64 * 1024); // a FIFO there must not hold the relay (and an fs thread)
    const target = file && 'text' in file ? teleopTarget(file.text) : null;
    if (!target) return fail(`run ${id} has no teleop page (start it with --teleop web)`);
    if (page.readyState !== WebSocket.OPEN) return;
    this.stats.relays++;
    const up = new WebSocket(target, { maxPayload: MAX_SCENE_LINE_BYTES }); // a scene message carries its meshes
    upstream = up;
    up.on('open', () => {
      for (const m of queued.splice(0)) up.send(m);
    });
    up.on('message', (data, isBinary) => {
      if (page.readyState === WebSocket.OPEN) page.send(data, { binary: isBinary });
    });
    up.on('error', (err) => fail(`the run's teleop page is not reachable: ${err.message}`));
    up.on('close', () => page.close(1000, 'run ended'));
  }
}

/** The run's teleop socket from teleop.json's `url` (the page's address), or null. */
function teleopTarget(text: string): string | null {
  try {
    const url = field(JSON.parse(text), 'url');
    if (typeof url !== 'string') return null;
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return null;
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    target.pathname = '/ws';
    return target.href;
  } catch {
    return null;
  }
}

/** The page's script: dashboard/client.ts with uPlot and three.js, bundled by esbuild from node_modules; and the teleop page. */
async function bundleClient(): Promise<{ html: string; js: string; css: string; teleop: Buffer }> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({ entryPoints: [fileURLToPath(new URL('client.ts', HERE))], bundle: true, format: 'esm', minify: true, write: false, target: 'es2020', logLevel: 'silent' });
  const js = out.outputFiles[0]?.text ?? '';
  const css = readFileSync(fileURLToPath(import.meta.resolve('uplot/dist/uPlot.min.css')), 'utf8');
  const html = readFileSync(new URL('index.html', HERE), 'utf8');
  // The run's own teleop page (with its live scene), relayed: the same page its server serves.
  return { html, js, css, teleop: await teleopPage() };
}

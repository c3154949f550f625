import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { openLocalServer, type LocalServer } from '../control/local-server.js';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { findRunDirs, readRunConfig } from '../analysis/runs.js';
import { parseRecord, type MetricRecord } from '../policies/metrics-log.js';
import { readRunStatus } from '../experiment/run-status.js';
import { JsonlTail, type TailOptions } from './tail.js';

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

/** One row of the run list. */
export interface RunRow {
  readonly id: string;
  readonly name: string;
  readonly env: string;
  readonly algo: string;
  readonly seed: number | null;
  readonly state: string;
  readonly step: number;
  readonly steps: number | null;
  readonly lastEval: { step: number; returnMean: number; successRate: number } | null;
  readonly bestEval: { step: number; returnMean: number; successRate: number } | null;
  readonly scenes: readonly string[];
  readonly teleop: boolean;
  readonly problems: readonly string[];
  /** When metrics.jsonl last changed, ms since epoch. */
  readonly updated: number;
}

/** Messages the page sends over /ws. */
type ClientMessage = { op: 'watch'; runs: string[] } | { op: 'scene'; run: string; file: string } | { op: 'unscene' };

const HERE = new URL('.', import.meta.url);
const TELEOP_PAGE = new URL('../hil/devices/web-page.html', import.meta.url);
const SCENE_FILE = /^[\w.-]+\.scene\.jsonl$/;
const MAX_CLIENT_MESSAGE = 64 * 1024;
const MAX_RECORDS_PER_MESSAGE = 20_000;

interface Summary {
  tail: JsonlTail;
  lastStep: number;
  lastEval: RunRow['lastEval'];
  bestEval: RunRow['bestEval'];
  badLines: number;
  problems: string[];
}

interface Client {
  readonly ws: WebSocket;
  watched: Map<string, JsonlTail>;
  /** Watched runs whose metrics file is gone (reported once). */
  readonly gone: Set<string>;
  scene: { run: string; file: string; tail: JsonlTail } | null;
}

/**
 * `roborl dashboard`: one local HTTP + WebSocket server for a folder of runs. It serves the page
 * (bundled at start from dashboard/client.ts with uPlot and three.js out of node_modules: no CDN),
 * the run list (`/api/runs`), new metrics and scene lines as files grow (`/ws`), and relays the
 * teleop page of a run started with `--teleop web` (`/teleop/<run>/`). Every request needs the
 * token. Bad input on disk (a corrupt metrics line, a run folder deleted while open, a huge file)
 * and bad messages become problems shown in the page; none of them stops the server.
 */
export class Dashboard {
  readonly stats = { refused: 0, badMessages: 0, clients: 0, relays: 0 };
  private readonly clients = new Set<Client>();
  private readonly summaries = new Map<string, Summary>();
  private readonly ids = new Map<string, string>(); // run id → folder
  private readonly timer: NodeJS.Timeout;

  /** Where to open the dashboard (token included). */
  readonly url: string;
  private readonly http: Server;

  private constructor(
    private readonly server: LocalServer,
    private readonly wss: WebSocketServer,
    private readonly o: DashboardOptions,
    private readonly files: { html: string; js: string; css: string },
  ) {
    this.url = server.url;
    this.http = server.http;
    this.timer = setInterval(() => this.poll(), o.pollMs ?? 250);
  }

  static async open(o: DashboardOptions): Promise<Dashboard> {
    const files = await bundleClient();
    const server = await openLocalServer(o);
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE });
    const d = new Dashboard(server, wss, o, files);
    const http = server.http;
    http.on('request', (req, res) => {
      try {
        d.onRequest(req, res);
      } catch (err) {
        o.log?.(`dashboard: ${(err as Error).message}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`error: ${(err as Error).message}\n`);
      }
    });
    http.on('upgrade', (req, socket, head) => d.onUpgrade(req, socket as Socket, head));
    return d;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }

  private authorized(req: IncomingMessage): boolean {
    return this.server.authorized(req);
  }

  private refuse(why: string): void {
    this.stats.refused++;
    if (this.stats.refused <= 10) this.o.log?.(`dashboard: refused ${why}`);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!this.authorized(req)) {
      this.refuse(`${url.pathname} from ${req.socket.remoteAddress} without a valid token`);
      res.writeHead(401, { 'content-type': 'text/plain' }).end('roborl dashboard: open the address printed in the terminal (it carries the token)\n');
      return;
    }
    const send = (type: string, body: string | Buffer): void => void res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    const teleop = /^\/teleop\/([^/]+)\/$/.exec(url.pathname);
    if (url.pathname === '/') send('text/html; charset=utf-8', this.files.html);
    else if (url.pathname === '/app.js') send('text/javascript; charset=utf-8', this.files.js);
    else if (url.pathname === '/uplot.css') send('text/css; charset=utf-8', this.files.css);
    else if (url.pathname === '/api/runs') send('application/json', JSON.stringify({ runsDir: resolve(this.o.runsDir), runs: this.listRuns() }));
    else if (teleop) send('text/html; charset=utf-8', readFileSync(TELEOP_PAGE));
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const teleop = /^\/teleop\/([^/]+)\/ws$/.exec(path);
    if ((path !== '/ws' && !teleop) || !this.authorized(req)) {
      this.refuse(`WebSocket ${path} from ${req.socket.remoteAddress}${path === '/ws' || teleop ? ' without a valid token' : ''}`);
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => (teleop ? this.relayTeleop(ws, decodeURIComponent(teleop[1] as string)) : this.onClient(ws)));
  }

  // ---- run list -------------------------------------------------------------------------

  listRuns(): RunRow[] {
    let dirs: string[] = [];
    try {
      dirs = existsSync(this.o.runsDir) ? findRunDirs([this.o.runsDir]) : [];
    } catch {
      dirs = [];
    }
    const rows: RunRow[] = [];
    this.ids.clear();
    for (const dir of dirs) {
      const id = relative(this.o.runsDir, dir) || '.';
      this.ids.set(id, dir);
      rows.push(this.row(id, dir));
    }
    for (const dir of this.summaries.keys()) if (!dirs.includes(dir)) this.summaries.delete(dir);
    return rows;
  }

  private row(id: string, dir: string): RunRow {
    let s = this.summaries.get(dir);
    if (!s) {
      s = { tail: new JsonlTail(join(dir, 'metrics.jsonl'), this.o.tail), lastStep: 0, lastEval: null, bestEval: null, badLines: 0, problems: [] };
      this.summaries.set(dir, s);
    }
    for (let i = 0; i < 4; i++) {
      const r = s.tail.read();
      if (r.reset) Object.assign(s, { lastStep: 0, lastEval: null, bestEval: null, badLines: 0 });
      for (const p of r.problems) if (!s.problems.includes(p)) s.problems.push(p);
      for (const line of r.lines) {
        if (line.trim() === '') continue;
        const rec = parseRecord(line);
        if (typeof rec === 'string') {
          s.badLines++;
          continue;
        }
        s.lastStep = Math.max(s.lastStep, rec.step);
        if (rec.type === 'eval' && typeof rec['returnMean'] === 'number') {
          const e = { step: rec.step, returnMean: rec['returnMean'], successRate: typeof rec['successRate'] === 'number' ? rec['successRate'] : 0 };
          s.lastEval = e;
          if (!s.bestEval || e.returnMean > s.bestEval.returnMean) s.bestEval = e;
        }
      }
      if (!r.more) break;
    }
    const config = readRunConfig(dir);
    const status = readRunStatus(dir);
    const problems = [...s.problems, ...(s.badLines ? [`metrics.jsonl: ${s.badLines} line(s) are not records (skipped)`] : []), ...(config.error ? [config.error] : [])];
    let scenes: string[] = [];
    try {
      scenes = readdirSync(join(dir, 'scenes')).filter((f) => SCENE_FILE.test(f)).sort();
    } catch {
      scenes = [];
    }
    const updated = mtime(join(dir, 'metrics.jsonl'));
    const state = status?.state ?? (Date.now() - updated < 30_000 ? 'writing' : 'unknown');
    return {
      id,
      name: config.name ?? id,
      env: config.env ?? '?',
      algo: config.algo ?? '?',
      seed: config.seed ?? null,
      state,
      step: Math.max(s.lastStep, status?.step ?? 0),
      steps: status?.steps ?? config.steps ?? null,
      lastEval: s.lastEval,
      bestEval: s.bestEval,
      scenes,
      teleop: state === 'running' && existsSync(join(dir, 'teleop.json')),
      problems,
      updated,
    };
  }

  // ---- live files -----------------------------------------------------------------------

  private onClient(ws: WebSocket): void {
    const client: Client = { ws, watched: new Map(), gone: new Set(), scene: null };
    this.clients.add(client);
    this.stats.clients++;
    ws.on('message', (data, isBinary) => this.onClientMessage(client, data, isBinary));
    ws.on('error', (err) => {
      this.stats.badMessages++;
      this.o.log?.(`dashboard: ${err.message}`);
    });
    ws.on('close', () => this.clients.delete(client));
  }

  private onClientMessage(client: Client, data: RawData, isBinary: boolean): void {
    const msg = isBinary ? 'binary frames are not accepted' : parseClientMessage(data.toString());
    if (typeof msg === 'string') {
      this.stats.badMessages++;
      this.sendTo(client, { op: 'problem', message: `refused a message: ${msg}` });
      return;
    }
    if (this.ids.size === 0) this.listRuns();
    switch (msg.op) {
      case 'watch': {
        const next = new Map<string, JsonlTail>();
        for (const id of msg.runs) {
          const dir = this.ids.get(id);
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
        const dir = this.ids.get(msg.run);
        if (!dir || !SCENE_FILE.test(msg.file)) {
          this.sendTo(client, { op: 'problem', run: msg.run, message: `no recording ${msg.file} in run ${msg.run}` });
          return;
        }
        client.scene = { run: msg.run, file: msg.file, tail: new JsonlTail(join(dir, 'scenes', msg.file), this.o.tail) };
        break;
      }
      case 'unscene':
        client.scene = null;
        break;
    }
    this.pollClient(client);
  }

  private poll(): void {
    for (const c of this.clients) {
      try {
        this.pollClient(c);
      } catch (err) {
        this.sendTo(c, { op: 'problem', message: `dashboard: ${(err as Error).message}` });
      }
    }
  }

  private pollClient(c: Client): void {
    if (c.ws.bufferedAmount > 4 * 2 ** 20) return; // a slow page catches up before it gets more
    for (const [run, tail] of c.watched) {
      const r = tail.read();
      for (const p of r.problems) this.sendTo(c, { op: 'problem', run, message: p });
      if (r.missing) {
        if (!c.gone.has(run)) this.sendTo(c, { op: 'problem', run, message: `run ${run}: metrics.jsonl is gone (the run folder was deleted or moved)` });
        c.gone.add(run);
        continue;
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
    }
    if (c.scene) {
      const r = c.scene.tail.read();
      for (const p of r.problems) this.sendTo(c, { op: 'problem', run: c.scene.run, message: p });
      if (r.missing) {
        this.sendTo(c, { op: 'problem', run: c.scene.run, message: `recording ${c.scene.file} is gone` });
        c.scene = null;
        return;
      }
      const lines: unknown[] = [];
      for (const l of r.lines) {
        try {
          lines.push(JSON.parse(l));
        } catch {
          this.sendTo(c, { op: 'problem', run: c.scene.run, message: `${c.scene.file}: a line that is not JSON skipped` });
        }
      }
      if (lines.length || r.reset) this.sendTo(c, { op: 'scene-lines', run: c.scene.run, file: c.scene.file, reset: r.reset, lines });
    }
  }

  private sendTo(c: Client, msg: Record<string, unknown>): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  }

  // ---- teleop relay ---------------------------------------------------------------------

  /** Pipes the page's teleop socket to the run's own teleop server (its address from teleop.json). */
  private relayTeleop(page: WebSocket, id: string): void {
    if (this.ids.size === 0) this.listRuns();
    const dir = this.ids.get(id);
    const fail = (message: string): void => {
      if (page.readyState === WebSocket.OPEN) page.send(JSON.stringify({ op: 'error', message }));
      page.close(4004, 'no teleop');
    };
    if (!dir) return fail(`no run ${id}`);
    let target: URL;
    try {
      const info = JSON.parse(readFileSync(join(dir, 'teleop.json'), 'utf8')) as { url: string };
      target = new URL(info.url);
      target.protocol = 'ws:';
      target.pathname = '/ws';
    } catch {
      return fail(`run ${id} has no teleop page (start it with --teleop web)`);
    }
    this.stats.relays++;
    const upstream = new WebSocket(target.href, { maxPayload: 4 * 2 ** 20 });
    const queued: string[] = [];
    upstream.on('open', () => {
      for (const m of queued.splice(0)) upstream.send(m);
    });
    upstream.on('message', (data, isBinary) => {
      if (page.readyState === WebSocket.OPEN) page.send(data, { binary: isBinary });
    });
    upstream.on('error', (err) => fail(`the run's teleop page is not reachable: ${err.message}`));
    upstream.on('close', () => page.close(1000, 'run ended'));
    page.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else if (upstream.readyState === WebSocket.CONNECTING && queued.length < 16) queued.push(text);
    });
    page.on('error', () => upstream.terminate());
    page.on('close', () => upstream.close());
  }
}

function parseClientMessage(text: string): ClientMessage | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 60)}`;
  }
  if (typeof v !== 'object' || v === null) return 'expected a JSON object with an `op`';
  const m = v as Record<string, unknown>;
  if (m['op'] === 'watch') {
    const runs = m['runs'];
    if (!Array.isArray(runs) || runs.length > 64 || !runs.every((r) => typeof r === 'string')) return 'watch: expected `runs`, an array of at most 64 run ids';
    return { op: 'watch', runs: runs as string[] };
  }
  if (m['op'] === 'scene') {
    if (typeof m['run'] !== 'string' || typeof m['file'] !== 'string') return 'scene: expected `run` and `file` strings';
    return { op: 'scene', run: m['run'], file: m['file'] };
  }
  if (m['op'] === 'unscene') return { op: 'unscene' };
  return `unknown op ${JSON.stringify(m['op'])} (expected watch, scene or unscene)`;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** The page's script: dashboard/client.ts with uPlot and three.js, bundled by esbuild from node_modules. */
async function bundleClient(): Promise<{ html: string; js: string; css: string }> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({ entryPoints: [fileURLToPath(new URL('client.ts', HERE))], bundle: true, format: 'esm', minify: true, write: false, target: 'es2020', logLevel: 'silent' });
  const js = out.outputFiles[0]?.text ?? '';
  const css = readFileSync(fileURLToPath(import.meta.resolve('uplot/dist/uPlot.min.css')), 'utf8');
  const html = readFileSync(new URL('index.html', HERE), 'utf8');
  return { html, js, css };
}

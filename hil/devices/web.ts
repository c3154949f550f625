import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openLocalServer, requestPath, type LocalServer } from '../../control/local-server.js';
import { roundPoses, type SceneShape, type SceneSource } from '../../control/scene.js';
import sharp from 'sharp';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ButtonPresses, IDLE, type TeleopButton, type TeleopContext, type TeleopDevice, type TeleopOutcome, type TeleopReading } from '../device.js';

/** Messages the page sends (JSON text frames). */
export type PageMessage =
  /** `null` in `action`: the policy's value for that entry (the page's gripper until the person moves it: review finding 5). */
  | { readonly op: 'command'; readonly engaged: boolean; readonly action: readonly (number | null)[] }
  | { readonly op: 'button'; readonly button: TeleopButton };

/**
 * What the page's controls drive: the env's own action (`action`: one control per action entry,
 * named by the spec's `actionNames`) or the tool (`tcp`: x, y, z and a gripper when there is one).
 * The policy's proposal is shown in the same frame.
 */
export type TeleopFrame = 'action' | 'tcp';

/** Messages the server sends. */
export type ServerMessage =
  | { readonly op: 'hello'; readonly env: string; readonly dims: number; readonly labels: readonly string[]; readonly frame: TeleopFrame; readonly observationNames: readonly string[] | null; readonly staleMs: number; readonly cameras?: readonly TeleopCameraInfo[] }
  /** A camera's newest frame (issue 23): a PNG, base64, at the size `hello` gave it; at most `cameraHz` per camera. */
  | { readonly op: 'camera'; readonly name: string; readonly png: string }
  | {
      readonly op: 'state';
      readonly t: number;
      readonly episode: number;
      readonly obs: readonly number[];
      /** The policy's proposal in the controls' frame (one value per control), or null when it has none there. */
      readonly proposed: readonly number[] | null;
      readonly human: boolean;
      readonly humanSteps: number;
      readonly steps: number;
      /** The episode's return so far and whether it has succeeded yet. */
      readonly ret: number;
      readonly success: boolean;
      /** The scene's poses (x y z qx qy qz qw per shape of the last `scene` message), when the env has a scene. */
      readonly poses?: readonly number[];
    }
  /** The scene's shapes: on connect, and whenever they change. */
  | { readonly op: 'scene'; readonly episode: number; readonly shapes: readonly SceneShape[] }
  /** An episode ended (sent at once, not held back by the state rate). */
  | { readonly op: 'outcome'; readonly episode: number; readonly success: boolean; readonly ret: number; readonly steps: number; readonly ended: 'terminated' | 'truncated' }
  | { readonly op: 'error'; readonly message: string }
  | { readonly op: 'bye'; readonly reason: string };

export interface WebTeleopOptions {
  /** Action dimensions the page drives (learner units, [−1, 1]). */
  readonly dims: number;
  /** The env id, shown on the page. */
  readonly env?: string;
  /** Names for the action dimensions, one per dimension (default "dim 1", …). */
  readonly labels?: readonly string[];
  /** What the controls drive (shown on the page). Default `action`. */
  readonly frame?: TeleopFrame;
  /** Names of the observation's entries (the env spec's `observationNames`); without them the page shows `obs[i]`. */
  readonly observationNames?: readonly string[];
  /** The env's scene (the simulator's), drawn live beside the controls; poses go out with each state. */
  readonly scene?: SceneSource | null;
  /**
   * Cameras the person sees beside the scene (issue 23), e.g. a robot's (RobotEnv has this shape):
   * their names and sizes, and each one's newest frame (RGB, H×W×3), or null before the first.
   */
  readonly cameras?: TeleopCameraSource | null;
  /** Frames per second sent per camera while a page is connected. Default 10. */
  readonly cameraHz?: number;
  /** Address to listen on. Default 127.0.0.1 (a teleop page steers a robot: keep it local unless configured). */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** The access token (default: 16 random bytes, hex). Tests pass a fixed one. */
  readonly token?: string;
  /**
   * An engaged page sends its command every 50 ms; a command older than this no longer counts
   * (the page froze, the tab went to the background, the network stalled): the policy acts
   * again. Default 300 ms.
   */
  readonly staleMs?: number;
  /** State updates to the page at most this often. Default 30 Hz. */
  readonly stateHz?: number;
  readonly log?: (line: string) => void;
}

/** A camera as the page is told of it. */
export interface TeleopCameraInfo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
}

/** Where the page's camera frames come from (a robot env, or anything shaped like one). */
export interface TeleopCameraSource {
  readonly cameras: readonly TeleopCameraInfo[];
  cameraFrame(name: string): { readonly rgb: Uint8Array; readonly width: number; readonly height: number } | null;
}

const BUTTONS: readonly TeleopButton[] = ['success', 'failure', 'end-episode', 'estop'];
const PAGE = new URL('./web-page.html', import.meta.url);
const CLIENT = new URL('./web-client.ts', import.meta.url);
const MAX_MESSAGE_BYTES = 16 * 1024;

let page: Promise<Buffer> | null = null;

/**
 * The teleop page: web-page.html with its script (web-client.ts and three.js from node_modules,
 * bundled by esbuild: no CDN) inlined, so the one tokened request brings everything. Built once
 * per process, on first use; the dashboard serves the same page under `/teleop/<run>/`.
 */
export function teleopPage(): Promise<Buffer> {
  page ??= buildPage().catch((err: unknown) => {
    page = null; // a failed build is retried by the next request
    throw err;
  });
  return page;
}

async function buildPage(): Promise<Buffer> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({ entryPoints: [fileURLToPath(CLIENT)], bundle: true, format: 'esm', minify: true, write: false, target: 'es2020', logLevel: 'silent' });
  const js = out.outputFiles[0]?.text;
  if (js === undefined) throw new Error('esbuild produced no teleop page script');
  // Inline in a <script>: a "</script" in the bundle's strings would end the element early.
  const inline = js.replace(/<\/(script)/gi, '<\\/$1');
  const html = readFileSync(PAGE, 'utf8');
  if (!html.includes('<!-- client -->')) throw new Error(`${fileURLToPath(PAGE)} has no <!-- client --> placeholder`);
  return Buffer.from(html.replace('<!-- client -->', () => `<script type="module">${inline}</script>`));
}

/**
 * A browser teleop page as a teleop device. An HTTP + WebSocket server on 127.0.0.1 (by default)
 * serves the page at `/?token=…` and takes commands on `/ws?token=…`; anything without the
 * token is refused (HTTP 401) and counted. The page shows the observation and the policy's
 * proposal, and sends the person's action from sliders, a virtual stick or its keyboard while
 * they hold control. One page drives at a time: a newer page (a reload) replaces the older.
 * Malformed messages are refused with an `error` reply and counted; they never reach the loop.
 * A page that leaves after it connected reads as a disconnect (the intervention wrapper holds or
 * hands back, as configured) until a page connects again.
 */
export class WebTeleop implements TeleopDevice {
  readonly name = 'web';
  readonly stats = { refusedConnections: 0, badMessages: 0, badRequests: 0, commands: 0, pages: 0 };
  private page: WebSocket | null = null;
  /** The action entries labelled `gripper`: the only ones a command may leave null (the policy's). */
  private readonly gripperEntries: ReadonlySet<number>;
  private everConnected = false;
  private command: { engaged: boolean; action: readonly (number | null)[]; at: number } | null = null;
  private readonly buttons = new ButtonPresses();
  private lastStateAt = -Infinity;
  private episode = 0;
  private lastContext: TeleopContext | null = null;
  private readonly counts = { steps: 0, humanSteps: 0 };
  /** This episode so far: the return, whether it succeeded, steps run. */
  private current = { ret: 0, success: false, steps: 0 };
  private lastOutcome: Extract<ServerMessage, { op: 'outcome' }> | null = null;
  private shapes: { key: string; shapes: readonly SceneShape[]; msg: Extract<ServerMessage, { op: 'scene' }> } | null = null;
  private proposalMismatchLogged = false;
  /** Per camera: when its last frame went out, and whether one is being encoded. */
  private readonly cameraSends = new Map<string, { at: number; busy: boolean }>();
  private cameraErrorLogged = false;
  private sceneErrorLogged = false;
  private readonly pingTimer: NodeJS.Timeout;
  private awaitingPong = false;

  /** Where a person opens the page (token included). */
  readonly url: string;
  private readonly http: Server;

  private constructor(
    private readonly server: LocalServer,
    private readonly wss: WebSocketServer,
    private readonly options: WebTeleopOptions,
  ) {
    this.url = server.url;
    this.http = server.http;
    this.gripperEntries = new Set((options.labels ?? []).flatMap((l, i) => (l === 'gripper' ? [i] : [])));
    // A page whose network vanished without a close (laptop lid, Wi-Fi) is found by pings.
    this.pingTimer = setInterval(() => this.ping(), 1000);
    this.pingTimer.unref();
  }

  /** Starts the server and resolves once it listens. */
  static async open(options: WebTeleopOptions): Promise<WebTeleop> {
    if (!(Number.isInteger(options.dims) && options.dims >= 1 && options.dims <= 16)) throw new RangeError(`Expected \`dims\` to be an integer in [1, 16], got ${options.dims}`);
    if (options.labels && options.labels.length !== options.dims) throw new RangeError(`Expected one label per dimension (${options.dims}), got ${options.labels.length}: ${options.labels.join(', ')}`);
    const server = await openLocalServer(options);
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
    const device = new WebTeleop(server, wss, options);
    const http = server.http;
    http.on('request', (req, res) => device.onRequest(req, res));
    http.on('upgrade', (req, socket, head) => device.onUpgrade(req, socket as Socket, head));
    return device;
  }

  private authorized(req: IncomingMessage): boolean {
    return this.server.authorized(req);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const parsed = requestPath(req.url);
    if (typeof parsed === 'string') {
      this.badRequest(parsed);
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad request: ${parsed}\n`);
      return;
    }
    const path = parsed.pathname;
    if (path !== '/' || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!this.authorized(req)) {
      this.refuse(`page request from ${req.socket.remoteAddress} without a valid token`);
      res.writeHead(401, { 'content-type': 'text/plain' }).end('roborl teleop: open the address printed in the terminal (it carries the token)\n');
      return;
    }
    teleopPage().then(
      (html) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html),
      (err: unknown) => {
        this.options.log?.(`web teleop: the page could not be built: ${(err as Error).message}`);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('roborl teleop: the page could not be built (see the terminal)\n');
      },
    );
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const parsed = requestPath(req.url);
    if (typeof parsed === 'string') {
      this.badRequest(`WebSocket: ${parsed}`);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const path = parsed.pathname;
    if (path !== '/ws' || !this.authorized(req)) {
      this.refuse(`WebSocket from ${req.socket.remoteAddress} ${path !== '/ws' ? `on ${path}` : 'without a valid token'}`);
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onPage(ws));
  }

  private badRequest(why: string): void {
    this.stats.badRequests++;
    if (this.stats.badRequests <= 10) this.options.log?.(`web teleop: bad request: ${why}`);
  }

  private refuse(why: string): void {
    this.stats.refusedConnections++;
    if (this.stats.refusedConnections <= 10) this.options.log?.(`web teleop: refused ${why}`);
  }

  private onPage(ws: WebSocket): void {
    const previous = this.page;
    if (previous) {
      this.send(previous, { op: 'bye', reason: 'a newer page took over' });
      previous.close(4000, 'replaced');
    }
    this.page = ws;
    this.everConnected = true;
    this.command = null;
    this.stats.pages++;
    this.awaitingPong = false;
    ws.on('pong', () => {
      if (this.page === ws) this.awaitingPong = false;
    });
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on('error', (err) => {
      // ws closes the socket after an error (e.g. a frame over maxPayload); count it as bad input.
      this.stats.badMessages++;
      this.options.log?.(`web teleop: ${err.message}`);
    });
    ws.on('close', () => {
      if (this.page === ws) {
        this.page = null;
        this.command = null;
      }
    });
    const o = this.options;
    this.send(ws, { op: 'hello', env: o.env ?? '', dims: o.dims, labels: o.labels ?? Array.from({ length: o.dims }, (_, i) => `dim ${i + 1}`), frame: o.frame ?? 'action', observationNames: o.observationNames ?? null, staleMs: o.staleMs ?? 300, ...(o.cameras?.cameras.length ? { cameras: o.cameras.cameras.map((c) => ({ name: c.name, width: c.width, height: c.height })) } : {}) });
    if (this.shapes) this.send(ws, this.shapes.msg);
    if (this.lastOutcome) this.send(ws, this.lastOutcome);
    if (this.lastContext) this.sendState(this.lastContext, false);
  }

  private onMessage(ws: WebSocket, data: RawData, isBinary: boolean): void {
    if (ws !== this.page) return;
    const parsed = isBinary ? { error: 'binary frames are not accepted (send JSON text)' } : parsePageMessage(data.toString(), this.options.dims, this.gripperEntries);
    if ('error' in parsed) {
      this.stats.badMessages++;
      if (this.stats.badMessages <= 10) this.options.log?.(`web teleop: refused a message: ${parsed.error}`);
      this.send(ws, { op: 'error', message: parsed.error });
      return;
    }
    const msg = parsed.message;
    switch (msg.op) {
      case 'command':
        this.stats.commands++;
        this.command = { engaged: msg.engaged, action: msg.action, at: performance.now() };
        return;
      case 'button':
        this.buttons.press(msg.button);
        if (msg.button === 'estop') this.command = null;
        return;
      default:
        assertNever(msg);
    }
  }

  private ping(): void {
    const ws = this.page;
    if (!ws) return;
    if (this.awaitingPong) {
      ws.terminate();
      return;
    }
    this.awaitingPong = true;
    ws.ping();
  }

  private send(ws: WebSocket, msg: ServerMessage): void {
    // A page that cannot keep up is skipped rather than queued without bound.
    if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 256 * 1024) ws.send(JSON.stringify(msg));
  }

  private sendState(context: TeleopContext, human: boolean): void {
    const ws = this.page;
    if (!ws) return;
    this.lastStateAt = performance.now();
    const poses = this.scenePoses(ws);
    const c = this.current;
    this.send(ws, { op: 'state', t: context.t, episode: this.episode, obs: Array.from(context.obs), proposed: this.proposal(context.proposed), human, humanSteps: this.counts.humanSteps, steps: this.counts.steps, ret: c.ret, success: c.success, ...(poses ? { poses } : {}) });
    this.sendCameras(ws);
  }

  /**
   * Each camera's newest frame as a PNG, at most `cameraHz` per camera, encoded by sharp off the
   * event loop, one at a time per camera (a page that cannot keep up skips frames). A camera that
   * fails costs the page its picture, never the person control.
   */
  private sendCameras(ws: WebSocket): void {
    const source = this.options.cameras;
    if (!source) return;
    const now = performance.now();
    for (const c of source.cameras) {
      const s = this.cameraSends.get(c.name) ?? { at: -Infinity, busy: false };
      this.cameraSends.set(c.name, s);
      if (s.busy || now - s.at < 1000 / (this.options.cameraHz ?? 10)) continue;
      let f: ReturnType<TeleopCameraSource['cameraFrame']>;
      try {
        f = source.cameraFrame(c.name);
      } catch (err) {
        this.cameraProblem(err);
        continue;
      }
      if (!f || f.rgb.length !== f.width * f.height * 3) continue;
      s.at = now;
      s.busy = true;
      sharp(Buffer.from(f.rgb), { raw: { width: f.width, height: f.height, channels: 3 } })
        .png({ compressionLevel: 2 })
        .toBuffer()
        .then(
          (png) => {
            if (this.page === ws) this.send(ws, { op: 'camera', name: c.name, png: png.toString('base64') });
          },
          (err: unknown) => this.cameraProblem(err),
        )
        .finally(() => (s.busy = false));
    }
  }

  private cameraProblem(err: unknown): void {
    if (!this.cameraErrorLogged) this.options.log?.(`web teleop: camera: ${(err as Error).message}`);
    this.cameraErrorLogged = true;
  }

  /**
   * The proposal as the page shows it: one value per control, in the controls' frame. A proposal
   * of another length is in another frame (7 joint deltas under x, y, z labels): it is not sent.
   */
  private proposal(proposed: Float32Array): number[] | null {
    if (proposed.length === this.options.dims) return Array.from(proposed);
    if (proposed.length > 0 && !this.proposalMismatchLogged) {
      this.proposalMismatchLogged = true;
      this.options.log?.(`web teleop: the policy proposes ${proposed.length} values for ${this.options.dims} controls (another frame): the page does not show it`);
    }
    return null;
  }

  /** The scene's poses now; the shapes go out first when they are new (or changed). */
  private scenePoses(ws: WebSocket): number[] | null {
    const source = this.options.scene;
    if (!source) return null;
    let s: ReturnType<SceneSource['scene']>;
    try {
      s = source.scene();
    } catch (err) {
      // The view is a convenience: a scene that fails (a closed physics) costs the page its poses, never the person control.
      if (!this.sceneErrorLogged) this.options.log?.(`web teleop: scene: ${(err as Error).message}`);
      this.sceneErrorLogged = true;
      return null;
    }
    // The same shape objects as last time (MuJoCo's, with their meshes) are the same shapes: no
    // need to serialise every mesh at the state rate to find that out.
    const last = this.shapes;
    const same = last !== null && last.shapes.length === s.shapes.length && last.shapes.every((x, i) => x === s.shapes[i]);
    if (!same) {
      const key = JSON.stringify(s.shapes);
      if (last?.key !== key) {
        this.shapes = { key, shapes: s.shapes, msg: { op: 'scene', episode: this.episode, shapes: s.shapes } };
        this.send(ws, this.shapes.msg);
      } else this.shapes = { ...last, shapes: s.shapes };
    }
    return roundPoses(s.poses);
  }

  episodeStart(): void {
    this.episode++;
    this.current = { ret: 0, success: false, steps: 0 };
  }

  stepped(outcome: TeleopOutcome): void {
    const c = this.current;
    c.ret += outcome.reward;
    c.steps++;
    c.success = outcome.success === true; // the last step's, as evaluation and the episode statistics count it
    if (!outcome.terminated && !outcome.truncated) return;
    this.lastOutcome = { op: 'outcome', episode: this.episode, success: c.success, ret: c.ret, steps: c.steps, ended: outcome.terminated ? 'terminated' : 'truncated' };
    if (this.page) this.send(this.page, this.lastOutcome);
  }

  poll(context: TeleopContext): TeleopReading {
    this.lastContext = context;
    const button = this.buttons.take();
    const c = this.command;
    const fresh = c !== null && performance.now() - c.at <= (this.options.staleMs ?? 300);
    const engaged = fresh && c.engaged;
    this.counts.steps++;
    if (engaged) this.counts.humanSteps++;
    if (performance.now() - this.lastStateAt >= 1000 / (this.options.stateHz ?? 30)) this.sendState(context, engaged);
    if (!this.page && this.everConnected) return { ...IDLE, button, connected: false, error: 'web: the teleop page closed' };
    // An entry the person has not moved (null) is the policy's, in the frame of the controls.
    return engaged ? { engaged: true, action: Float32Array.from(c.action, (v, i) => v ?? Math.max(-1, Math.min(1, context.proposed[i] ?? 0))), button, connected: true } : { ...IDLE, button };
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    for (const ws of this.wss.clients) ws.terminate();
    if (this.page) {
      this.send(this.page, { op: 'bye', reason: 'roborl stopped' });
      this.page.terminate();
    }
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/**
 * Parses and checks one page message; every field is checked, nothing is cast. `nullable`: the
 * action entries that may be null (the policy's value) — the gripper's, which the page leaves to
 * the policy until the person moves it. Any other null is refused: an engaged command of nulls
 * would store the policy's own action as the person's correction.
 */
export function parsePageMessage(text: string, dims: number, nullable: ReadonlySet<number> = new Set()): { message: PageMessage } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: `not JSON: ${text.slice(0, 60)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'expected a JSON object with an `op`' };
  const m = value as Record<string, unknown>;
  switch (m['op']) {
    case 'command': {
      if (typeof m['engaged'] !== 'boolean') return { error: 'command: expected `engaged` to be true or false' };
      const action = m['action'];
      if (!Array.isArray(action) || action.length !== dims) return { error: `command: expected \`action\` to be an array of ${dims} numbers, got ${Array.isArray(action) ? `${action.length}` : typeof action}` };
      const values: (number | null)[] = [];
      for (const [i, v] of action.entries()) {
        if (v === null && !nullable.has(i)) return { error: `command: action[${i}] must be a finite number in [-1, 1] (only the gripper's entry may be null, the policy's), got null` };
        if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v < -1 || v > 1)) return { error: `command: action[${i}] must be a finite number in [-1, 1]${nullable.has(i) ? " or null (the policy's)" : ''}, got ${JSON.stringify(v)}` };
        values.push(v);
      }
      return { message: { op: 'command', engaged: m['engaged'], action: values } };
    }
    case 'button': {
      const button = BUTTONS.find((b) => b === m['button']);
      if (!button) return { error: `button: expected one of ${BUTTONS.join(', ')}, got ${JSON.stringify(m['button'])}` };
      return { message: { op: 'button', button } };
    }
    default:
      return { error: `unknown op ${JSON.stringify(m['op'])} (expected command or button)` };
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}

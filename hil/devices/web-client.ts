/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The teleop page's script (inlined into web-page.html by `teleopPage()`, bundled by esbuild
 * with three.js). It shows the live scene (the dashboard's {@link SceneRenderer}), the
 * observation by name, the policy's proposal in the frame of the person's controls, and the
 * episode's return and outcome; it sends the person's command while they hold control.
 *
 * Everything from the server is input: under the dashboard the server is whatever a run folder's
 * teleop.json names. Each message is checked field by field, and names, labels and the env id
 * go in as text, never markup.
 */
import { CameraPanel, parseCameraList } from '../../dashboard/page/cameras.js';
import { SceneFrames } from '../../dashboard/page/frames.js';
import { SceneRenderer } from '../../dashboard/page/scene-renderer.js';

const AXIS_KEYS: readonly (readonly [string, string])[] = [['q', 'a'], ['w', 's'], ['e', 'd'], ['r', 'f'], ['t', 'g'], ['y', 'h'], ['u', 'j'], ['i', 'k']];
const KEY_GAIN = 0.5;
const FRAME_NAMES: Readonly<Record<string, string>> = { tcp: 'tool frame (TCP)', action: 'action space' };

function $<T extends HTMLElement = HTMLElement>(id: string, type: new () => T = HTMLElement as unknown as new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no #${id}`);
  return el;
}

// ---- checking what arrives -----------------------------------------------------------------

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && Object.hasOwn(o, key) ? Reflect.get(o, key) : undefined;
}
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const numbers = (x: unknown): x is number[] => Array.isArray(x) && x.every(finite);
const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
const num = (o: unknown, key: string): number | null => {
  const v = field(o, key);
  return finite(v) ? v : null;
};

interface Hello {
  /** `cameras` is read from the message itself (parseCameraList). */
  readonly cameras?: unknown;
  readonly env: string;
  readonly dims: number;
  readonly labels: readonly string[];
  readonly frame: string;
  readonly observationNames: readonly string[] | null;
}

function parseHello(m: unknown): Hello | string {
  const dims = field(m, 'dims');
  const labels = field(m, 'labels');
  const env = field(m, 'env');
  const frame = field(m, 'frame');
  const names = field(m, 'observationNames');
  if (!(finite(dims) && Number.isInteger(dims) && dims >= 1 && dims <= 16)) return `hello: dims must be an integer in [1, 16], got ${JSON.stringify(dims)}`;
  if (!strings(labels) || labels.length !== dims) return 'hello: expected one label per dimension';
  return { env: typeof env === 'string' ? env : '', dims, labels, frame: typeof frame === 'string' ? frame : 'action', observationNames: strings(names) ? names : null, ...(field(m, 'cameras') === undefined ? {} : { cameras: field(m, 'cameras') }) };
}

// ---- the person's controls -----------------------------------------------------------------

let ws: WebSocket | null = null;
let hello: Hello | null = null;
let engaged = false;
let sliders: HTMLInputElement[] = [];
let stick: [number, number] = [0, 0];
const held = new Set<string>();
/** Whether the person moved the gripper control (its slider or keys) since taking over: until then the page sends null there, the policy's gripper. */
let gripTouched = false;
/** A slider being set back by the page itself, not moved by the person. */
let releasing = false;
const isGripper = (i: number): boolean => hello?.labels[i] === 'gripper';

const clamp = (v: number): number => Math.max(-1, Math.min(1, v));

function action(): (number | null)[] {
  const dims = hello?.dims ?? 0;
  const a = new Array<number | null>(dims).fill(0);
  for (let i = 0; i < dims; i++) {
    if (isGripper(i) && !gripTouched && !AXIS_KEYS[i]?.some((k) => held.has(k))) {
      a[i] = null; // the policy's gripper: a 0 would half-open fingers that hold something
      continue;
    }
    let v = Number(sliders[i]?.value ?? 0);
    if (i < 2) v += stick[i] ?? 0;
    const keys = AXIS_KEYS[i];
    if (keys) {
      if (held.has(keys[0])) v += KEY_GAIN;
      if (held.has(keys[1])) v -= KEY_GAIN;
    }
    a[i] = Math.round(clamp(v) * 1000) / 1000;
  }
  return a;
}

function send(msg: object): void {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}
function sendCommand(): void {
  if (hello) send({ op: 'command', engaged, action: action() });
}
function releaseSlider(s: HTMLInputElement): void {
  releasing = true;
  s.value = '0';
  s.dispatchEvent(new Event('input'));
  releasing = false;
}
function setEngaged(on: boolean): void {
  engaged = on;
  // Handing back zeroes every input, so the next takeover starts from rest.
  if (!on) {
    sliders.forEach(releaseSlider);
    held.clear();
  }
  gripTouched = false;
  $('takeover').classList.toggle('on', on);
  $('takeover').textContent = on ? 'Hand back (space)' : 'Take over (space)';
  sendCommand();
}
function pressButton(b: string): void {
  if (b === 'estop') setEngaged(false);
  send({ op: 'button', button: b });
}

/** A labelled row: name, a widget, a value — elements and text only. */
function row(label: string, widget: HTMLElement, value: string): HTMLDivElement {
  const r = document.createElement('div');
  r.className = label === 'gripper' ? 'dim gripper' : 'dim';
  const name = document.createElement('span');
  name.textContent = label;
  const out = document.createElement('span');
  out.textContent = value;
  r.append(name, widget, out);
  return r;
}

function build(h: Hello): void {
  hello = h;
  $('env').textContent = h.env;
  const frame = FRAME_NAMES[h.frame] ?? h.frame;
  $('frame-controls').textContent = `· ${frame}`;
  $('frame-proposed').textContent = h.frame === 'tcp' ? `· ${frame}: its action as the TCP displacement it asks for` : `· ${frame}`;
  $('keys').textContent = AXIS_KEYS.slice(0, h.dims).map(([p, m]) => `${p}/${m}`).join(', ');
  sliders = [];
  const rows = h.labels.map((label, i) => {
    const s = document.createElement('input');
    Object.assign(s, { type: 'range', min: '-1', max: '1', step: '0.01', value: '0' });
    s.setAttribute('aria-label', label);
    s.dataset['dim'] = String(i);
    const r = row(label, s, '0.00');
    const out = r.lastElementChild;
    s.addEventListener('input', () => {
      if (out) out.textContent = Number(s.value).toFixed(2);
      if (label === 'gripper' && !releasing) gripTouched = true;
    });
    // A gripper is a position: its slider stays where the person left it (the others spring back to rest).
    if (label !== 'gripper') {
      s.addEventListener('pointerup', () => releaseSlider(s));
      s.addEventListener('blur', () => releaseSlider(s));
    }
    sliders.push(s);
    return r;
  });
  $('sliders').replaceChildren(...rows);
  // The cameras (issue 23): what the robot sees, beside the scene. None: the panel stays hidden.
  const list = field(h, 'cameras') === undefined ? [] : parseCameraList(h);
  if (typeof list === 'string') problem(`hello: ${list}`);
  cameraPanel.setCameras(typeof list === 'string' ? [] : list);
}

// ---- camera frames -------------------------------------------------------------------------

const cameraPanel = new CameraPanel($('cameras'));
let cameraFrames = 0;
/** A 640×480 PNG is well under this; anything larger is not a frame of ours. */
const MAX_CAMERA_BASE64 = 4 * 2 ** 20;

function onCamera(m: unknown): void {
  const name = field(m, 'name');
  const png = field(m, 'png');
  if (typeof name !== 'string' || typeof png !== 'string' || png.length > MAX_CAMERA_BASE64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(png)) return problem('a camera message was malformed');
  if (!cameraPanel.cameras.some((c) => c.name === name)) return problem(`a frame for a camera the page was not told of (${name.slice(0, 64)})`);
  const bytes = Uint8Array.from(atob(png), (ch) => ch.charCodeAt(0));
  void cameraPanel.draw(name, new Blob([bytes], { type: 'image/png' }), String(++cameraFrames));
}

// ---- what the server shows -----------------------------------------------------------------

const canvas = $('scene-canvas', HTMLCanvasElement);
const frames = new SceneFrames();
let renderer: SceneRenderer | null = null;

function showProposal(values: readonly number[] | null): void {
  const labels = hello?.labels ?? [];
  if (values === null || values.length !== labels.length) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = 'The policy has no proposal in this frame.';
    $('proposed').replaceChildren(p);
    return;
  }
  $('proposed').replaceChildren(
    ...values.map((v, i) => {
      const bar = document.createElement('div');
      bar.className = 'bar';
      const fill = document.createElement('i');
      const c = clamp(v); // a proposal past full scale shows its number, the bar stops at the end
      fill.style.left = `${Math.min(50, 50 + 50 * c)}%`;
      fill.style.width = `${Math.abs(50 * c)}%`;
      bar.appendChild(fill);
      return row(labels[i] ?? '', bar, v.toFixed(2));
    }),
  );
}

function showObservation(obs: readonly number[]): void {
  const names = hello?.observationNames;
  const named = names && names.length === obs.length ? names : null;
  $('obs').replaceChildren(
    ...obs.map((v, i) => {
      const tr = document.createElement('tr');
      for (const text of [named ? (named[i] ?? '') : `obs[${i}]`, v.toFixed(3)]) tr.appendChild(document.createElement('td')).textContent = text;
      return tr;
    }),
  );
}

/** A status pill: text, and green (ok), red (bad) or grey. */
function pill(id: string, text: string, kind: 'ok' | 'bad' | ''): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('ok', kind === 'ok');
  el.classList.toggle('bad', kind === 'bad');
  el.dataset['kind'] = kind || 'none';
}

function onState(m: unknown): void {
  const t = num(m, 't');
  const ep = num(m, 'episode');
  const obs = field(m, 'obs');
  const proposed = field(m, 'proposed');
  const ret = num(m, 'ret');
  if (t === null || ep === null || !numbers(obs) || ret === null || !(proposed === null || numbers(proposed))) return problem('a state message was malformed');
  $('t').textContent = String(t);
  $('episode').textContent = String(ep);
  $('ret').textContent = ret.toFixed(2);
  const steps = num(m, 'steps');
  const humanSteps = num(m, 'humanSteps');
  $('share').textContent = steps && humanSteps !== null ? `${((100 * humanSteps) / steps).toFixed(0)}%` : '–';
  const human = field(m, 'human') === true;
  $('who').textContent = human ? 'you' : 'policy';
  $('who').classList.toggle('you', human);
  const success = field(m, 'success') === true;
  pill('outcome', `${success ? 'success' : 'running'} · return ${ret.toFixed(2)}`, success ? 'ok' : '');
  showProposal(proposed);
  showObservation(obs);
  const poses = field(m, 'poses');
  if (poses !== undefined) {
    // The live view keeps only the newest frame; SceneFrames checks it against the shapes.
    const bad = frames.add([{ type: 'frame', episode: ep, t, poses, ...(field(m, 'success') === true ? { success: true } : {}) }]).bad;
    const f = frames.frames.at(-1);
    frames.frames.splice(0, frames.frames.length - 1);
    if (bad) problem('scene poses did not match the scene');
    else if (f) draw(f);
  }
}

function draw(f: (typeof frames.frames)[number]): void {
  try {
    renderer ??= new SceneRenderer(canvas);
    renderer.draw(f);
  } catch (err) {
    problem(`the 3D view cannot draw here: ${(err as Error).message}`); // no WebGL
  }
}

function onScene(m: unknown): void {
  const { bad } = frames.add([{ type: 'scene', episode: num(m, 'episode') ?? 0, hz: 25, shapes: field(m, 'shapes') }]);
  if (bad) return problem('the scene message was malformed');
  renderer?.forget();
  canvas.hidden = false;
  $('scene-none').hidden = true;
}

function onOutcome(m: unknown): void {
  const ep = num(m, 'episode');
  const ret = num(m, 'ret');
  const steps = num(m, 'steps');
  if (ep === null || ret === null || steps === null) return problem('an outcome message was malformed');
  const success = field(m, 'success') === true;
  const how = field(m, 'ended') === 'truncated' ? 'cut short' : 'ended';
  // Stays up through the next episode: how the last one went, at a glance.
  pill('last', `episode ${ep}: ${success ? 'success' : 'failure'} · return ${ret.toFixed(2)} · ${how} after ${steps} steps`, success ? 'ok' : 'bad');
}

function problem(text: string): void {
  $('error').textContent = text;
}

function onMessage(text: unknown): void {
  let m: unknown;
  try {
    m = JSON.parse(String(text));
  } catch {
    return problem('the server sent something that is not JSON');
  }
  switch (field(m, 'op')) {
    case 'hello': {
      const h = parseHello(m);
      if (typeof h === 'string') return problem(h);
      return build(h);
    }
    case 'state':
      return onState(m);
    case 'scene':
      return onScene(m);
    case 'outcome':
      return onOutcome(m);
    case 'camera':
      return onCamera(m);
    case 'error':
      return problem(`refused: ${String(field(m, 'message'))}`);
    case 'bye':
      return problem(String(field(m, 'reason')));
    default:
      return problem(`the server sent an unknown message (${JSON.stringify(field(m, 'op'))})`);
  }
}

function connect(): void {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  // Relative to the page, so the dashboard can host it under /teleop/<run>/.
  const url = new URL(`ws?token=${encodeURIComponent(token)}`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(url.href);
  ws = socket;
  socket.onopen = () => {
    $('link').textContent = 'connected';
    $('link').classList.remove('down');
  };
  socket.onclose = () => {
    $('link').textContent = 'disconnected';
    $('link').classList.add('down');
    setEngaged(false);
    setTimeout(connect, 1000);
  };
  socket.onmessage = (ev) => onMessage(ev.data);
}

// ---- input -----------------------------------------------------------------------------------

$('takeover').addEventListener('click', () => setEngaged(!engaged));
document.querySelectorAll<HTMLElement>('[data-button]').forEach((b) => b.addEventListener('click', () => pressButton(b.dataset['button'] ?? '')));
document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLButtonElement && (e.key === ' ' || e.key === 'Enter')) e.preventDefault();
  const k = e.key.toLowerCase();
  const axes = AXIS_KEYS.slice(0, hello?.dims ?? 0);
  if (e.repeat && !axes.some((p) => p.includes(k))) return;
  if (k === ' ') setEngaged(!engaged);
  else if (k === 'enter') pressButton('success');
  else if (k === 'x') pressButton('failure');
  else if (k === 'n') pressButton('end-episode');
  else if (k === 'escape') pressButton('estop');
  else if (axes.some((p) => p.includes(k))) {
    held.add(k);
    // A gripper key sets the gripper (a position, as its slider is): open or closed, and it stays.
    const g = axes.findIndex((p, i) => isGripper(i) && p.includes(k));
    const s = sliders[g];
    if (s) {
      s.value = axes[g]?.[0] === k ? '1' : '-1';
      s.dispatchEvent(new Event('input'));
    }
  }
  else return;
  e.preventDefault();
});
document.addEventListener('keyup', (e) => held.delete(e.key.toLowerCase()));
window.addEventListener('blur', () => held.clear());
const pad = $('stick');
const knob = $('knob');
function moveStick(e: PointerEvent): void {
  const r = pad.getBoundingClientRect();
  const x = clamp((e.clientX - r.left - r.width / 2) / (r.width / 2));
  const y = clamp(-(e.clientY - r.top - r.height / 2) / (r.height / 2));
  stick = [x, y];
  knob.style.left = `${80 + 80 * x}px`;
  knob.style.top = `${80 - 80 * y}px`;
}
pad.addEventListener('pointerdown', (e) => {
  pad.setPointerCapture(e.pointerId);
  moveStick(e);
});
pad.addEventListener('pointermove', (e) => {
  if (pad.hasPointerCapture(e.pointerId)) moveStick(e);
});
pad.addEventListener('pointerup', () => {
  stick = [0, 0];
  knob.style.left = '80px';
  knob.style.top = '80px';
});
canvas.hidden = true; // until a scene arrives
// While in control, the command goes out every 50 ms: the server lets a command lapse after ~300 ms.
setInterval(() => {
  if (engaged) sendCommand();
}, 50);
/** For tests and scripts: where a shape of the live scene is on the canvas. */
Object.assign(window, { roborlTeleopScene: { project: (name: string) => renderer?.project(name) ?? null } });
connect();

/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard page (bundled by dashboard/server.ts with esbuild). Runs on the left; curves
 * (uPlot), the recorded scene (three.js) and the teleop panel on the right. Everything arrives
 * over one WebSocket as the run folders' files grow.
 */
import * as THREE from 'three';
import uPlot from 'uplot';
import { aggregate } from '../analysis/curves.js';

interface EvalSummary {
  step: number;
  returnMean: number;
  successRate: number;
}
interface RunRow {
  id: string;
  name: string;
  env: string;
  algo: string;
  seed: number | null;
  state: string;
  step: number;
  steps: number | null;
  lastEval: EvalSummary | null;
  bestEval: EvalSummary | null;
  scenes: string[];
  teleop: boolean;
  problems: string[];
  updated: number;
}
type Rec = { type: string; step: number } & Record<string, unknown>;
interface Shape {
  name: string;
  kind: 'box' | 'sphere' | 'capsule' | 'cylinder';
  size: number[];
  role: string;
}
interface Frame {
  episode: number;
  t: number;
  poses: number[];
  reward?: number;
  success?: boolean;
  shapes: number;
}

const token = new URLSearchParams(location.search).get('token') ?? '';
const q = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const SKIP = new Set(['type', 'step', 'episode', 'firstSeed', 'episodes', 'returnStd']);
const ORDER = [/^eval\.returnMean$/, /^eval\.successRate$/, /^episode\.return$/, /^eval\.costMeans\./, /^episode\.costs\./, /lambda/i, /^episode\.human\.rate$/, /interventionRate/, /loss/i, /alpha/i, /^train\.updatesPerSec$/, /^train\.envStepsPerSec$/];
const TITLES: Record<string, string> = {
  'eval.returnMean': 'evaluation return',
  'eval.successRate': 'evaluation success rate',
  'episode.return': 'training episode return',
  'episode.human.rate': 'intervention rate (share of steps a person drove)',
  'train.updatesPerSec': 'updates / s',
  'train.envStepsPerSec': 'env steps / s',
};

let runs: RunRow[] = [];
const selected = new Set<string>(JSON.parse(localStorage.getItem('roborl.selected') ?? '[]') as string[]);
const series = new Map<string, Map<string, { x: number[]; y: number[] }>>(); // run → metric → points
const problems: string[] = [];
let ws: WebSocket | null = null;
let dirty = true;

// ---- runs ---------------------------------------------------------------------------------

async function refreshRuns(): Promise<void> {
  try {
    const res = await fetch(`/api/runs?token=${encodeURIComponent(token)}`);
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    const body = (await res.json()) as { runsDir: string; runs: RunRow[] };
    q('#runs-dir').textContent = body.runsDir;
    const first = runs.length === 0;
    runs = body.runs;
    if (first && selected.size === 0) for (const r of [...runs].sort((a, b) => b.updated - a.updated).slice(0, 3)) selected.add(r.id); // the newest
    for (const id of [...selected]) if (!runs.some((r) => r.id === id)) selected.delete(id);
    for (const r of runs) for (const p of r.problems) problem(`${r.id}: ${p}`);
    renderRuns();
    if (first) watch();
    renderSceneChoices();
    renderTeleop();
  } catch (err) {
    problem(`run list: ${(err as Error).message}`);
  }
}

function renderRuns(): void {
  const fmt = (e: EvalSummary | null): string => (e ? `${e.returnMean.toFixed(1)}${e.successRate ? ` · ${(100 * e.successRate).toFixed(0)}%` : ''}` : '–');
  const body = q<HTMLTableSectionElement>('#runs tbody');
  body.replaceChildren(
    ...runs.map((r) => {
      const tr = document.createElement('tr');
      tr.className = selected.has(r.id) ? 'sel' : '';
      tr.dataset['run'] = r.id;
      tr.innerHTML = `<td><input type="checkbox" ${selected.has(r.id) ? 'checked' : ''}></td><td title="${esc(r.id)}">${esc(r.name)}${r.seed === null ? '' : ` <span class="muted">s${r.seed}</span>`}</td><td>${esc(r.env)}</td><td class="state-${esc(r.state)}">${esc(r.state)}</td><td>${r.step}${r.steps ? `/${r.steps}` : ''}</td><td>${fmt(r.lastEval)}</td><td>${fmt(r.bestEval)}</td>`;
      tr.querySelector('input')?.addEventListener('change', (ev) => {
        if ((ev.target as HTMLInputElement).checked) selected.add(r.id);
        else {
          selected.delete(r.id);
          series.delete(r.id);
        }
        localStorage.setItem('roborl.selected', JSON.stringify([...selected]));
        renderRuns();
        watch();
        renderSceneChoices();
        renderTeleop();
        dirty = true;
      });
      return tr;
    }),
  );
}

function problem(message: string): void {
  if (problems.includes(message)) return;
  problems.push(message);
  if (problems.length > 50) problems.shift();
  q('#problems').replaceChildren(
    ...problems.map((p) => {
      const d = document.createElement('div');
      d.textContent = p;
      return d;
    }),
  );
}

// ---- live data ----------------------------------------------------------------------------

function connect(): void {
  const url = new URL(`ws?token=${encodeURIComponent(token)}`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(url.href);
  ws.onopen = () => {
    q('#link').textContent = 'live';
    series.clear();
    watch();
    if (sceneChoice) ws?.send(JSON.stringify({ op: 'scene', ...sceneChoice }));
  };
  ws.onclose = () => {
    q('#link').textContent = 'reconnecting…';
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data as string) as Record<string, unknown>);
}

function watch(): void {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: 'watch', runs: [...selected] }));
}

function onMessage(m: Record<string, unknown>): void {
  if (m['op'] === 'records') {
    const run = m['run'] as string;
    if (m['reset'] || !series.has(run)) series.set(run, new Map());
    const s = series.get(run) as Map<string, { x: number[]; y: number[] }>;
    for (const r of m['records'] as Rec[]) addRecord(s, r);
    dirty = true;
  } else if (m['op'] === 'problem') problem(`${m['run'] ? `${String(m['run'])}: ` : ''}${String(m['message'])}`);
  else if (m['op'] === 'scene-lines') onSceneLines(m['lines'] as Record<string, unknown>[], m['reset'] === true);
}

function addRecord(s: Map<string, { x: number[]; y: number[] }>, r: Rec): void {
  const push = (key: string, v: number): void => {
    let p = s.get(key);
    if (!p) s.set(key, (p = { x: [], y: [] }));
    p.x.push(r.step);
    p.y.push(v);
  };
  for (const [k, v] of Object.entries(r)) {
    if (SKIP.has(k)) continue;
    if (typeof v === 'number' && Number.isFinite(v)) push(`${r.type}.${k}`, v);
    else if (typeof v === 'boolean' && k === 'success') push(`${r.type}.${k}`, v ? 1 : 0);
    else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number' && Number.isFinite(v2)) push(`${r.type}.${k}.${k2}`, v2);
  }
}

// ---- curves -------------------------------------------------------------------------------

const charts = new Map<string, { u: uPlot; el: HTMLElement; signature: string }>();

function title(key: string): string {
  const known = TITLES[key];
  if (known) return known;
  const cost = /^(eval|episode)\.(costMeans|costs)\.(.+)$/.exec(key);
  if (cost) return `${cost[1] === 'eval' ? 'evaluation' : 'episode'} cost: ${cost[3]}`;
  const lambda = /^\w+\.lambdas?\.(.+)$/.exec(key);
  if (lambda) return `λ: ${lambda[1]}`;
  return key;
}

function metricRank(key: string): number {
  const i = ORDER.findIndex((re) => re.test(key));
  return i < 0 ? ORDER.length : i;
}

function renderCharts(): void {
  if (!dirty) return;
  dirty = false;
  const group = q<HTMLInputElement>('#group').checked;
  const keys = new Set<string>();
  for (const id of selected) for (const k of series.get(id)?.keys() ?? []) keys.add(k);
  const sorted = [...keys].sort((a, b) => metricRank(a) - metricRank(b) || a.localeCompare(b));
  q('#no-charts').hidden = sorted.length > 0;
  for (const [k, c] of charts) {
    if (!keys.has(k)) {
      c.u.destroy();
      c.el.remove();
      charts.delete(k);
    }
  }
  const container = q('#charts');
  sorted.forEach((key) => {
    const { data, seriesOpts, bands, points } = chartData(key, group);
    const signature = JSON.stringify(seriesOpts.map((s) => s.label)) + group;
    let c = charts.get(key);
    if (c && c.signature !== signature) {
      c.u.destroy();
      c.el.remove();
      charts.delete(key);
      c = undefined;
    }
    if (!c) {
      const el = document.createElement('div');
      el.className = 'chart';
      el.dataset['metric'] = key;
      el.innerHTML = `<h4>${esc(title(key))}</h4>`;
      const width = Math.max(380, Math.floor(container.clientWidth / Math.max(1, Math.floor(container.clientWidth / 440))) - 14);
      const u = new uPlot({ width, height: 220, scales: { x: { time: false } }, series: [{ label: 'step' }, ...seriesOpts], bands, legend: { live: false }, axes: [{ size: 30 }, { size: 60 }] }, data, el);
      // The CI band's edges are series too: keep them out of the legend.
      el.querySelectorAll<HTMLElement>('.u-legend tr.u-series').forEach((row) => {
        if (/ (hi|lo)$/.test((row.textContent ?? '').trim())) row.style.display = 'none';
      });
      c = { u, el, signature };
      charts.set(key, c);
    } else c.u.setData(data);
    c.el.dataset['points'] = String(points);
    container.appendChild(c.el); // keeps the order
  });
}

function chartData(key: string, group: boolean): { data: uPlot.AlignedData; seriesOpts: uPlot.Series[]; bands: uPlot.Band[]; points: number } {
  const lines: { label: string; x: number[]; y: number[]; lo?: number[]; hi?: number[] }[] = [];
  const chosen = runs.filter((r) => selected.has(r.id));
  if (group) {
    const groups = new Map<string, RunRow[]>();
    for (const r of chosen) groups.set(r.name, [...(groups.get(r.name) ?? []), r]);
    for (const [name, members] of groups) {
      const curve = aggregate(
        members.map((r) => {
          const s = series.get(r.id)?.get(key);
          return s ? s.x.map((step, i) => ({ step, value: s.y[i] as number })) : [];
        }),
        60,
        400,
      );
      if (curve.length) lines.push({ label: `${name} (${Math.max(...curve.map((p) => p.n))} seeds)`, x: curve.map((p) => p.step), y: curve.map((p) => p.mean), lo: curve.map((p) => p.lo), hi: curve.map((p) => p.hi) });
    }
  } else {
    for (const r of chosen) {
      const s = series.get(r.id)?.get(key);
      if (s) lines.push({ label: r.id, x: s.x, y: s.y });
    }
  }
  const xs = [...new Set(lines.flatMap((l) => l.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const column = (l: { x: number[] }, v: number[]): (number | null)[] => {
    const out: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    l.x.forEach((x, i) => (out[at.get(x) as number] = v[i] as number));
    return out;
  };
  const data: (number | null)[][] = [xs];
  const seriesOpts: uPlot.Series[] = [];
  const bands: uPlot.Band[] = [];
  let points = 0;
  lines.forEach((l, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    data.push(column(l, l.y));
    points += l.y.length;
    seriesOpts.push({ label: l.label, stroke: color, width: 1.5, spanGaps: true, points: { show: l.x.length < 60 } });
    if (l.lo && l.hi) {
      data.push(column(l, l.hi), column(l, l.lo));
      const hiIdx = data.length - 2;
      seriesOpts.push({ label: `${l.label} hi`, stroke: `${color}55`, width: 0.5, spanGaps: true, points: { show: false } }, { label: `${l.label} lo`, stroke: `${color}55`, width: 0.5, spanGaps: true, points: { show: false } });
      bands.push({ series: [hiIdx, hiIdx + 1], fill: `${color}22` });
    }
  });
  return { data: data as uPlot.AlignedData, seriesOpts, bands, points };
}

// ---- scene --------------------------------------------------------------------------------

let sceneChoice: { run: string; file: string } | null = null;
const shapeSets: Shape[][] = [];
const frames: Frame[] = [];
let hz = 25;
let frameIndex = 0;
let playing = true;
let meshes: THREE.Mesh[] = [];
let meshesFor = -1;
const canvas = q<HTMLCanvasElement>('#scene-canvas');
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
const scene3 = new THREE.Scene();
scene3.background = new THREE.Color('#f3f5f9');
const camera = new THREE.PerspectiveCamera(40, 1, 0.01, 50);
camera.up.set(0, 0, 1);
scene3.add(new THREE.HemisphereLight('#ffffff', '#8890a0', 2.2));
const sun = new THREE.DirectionalLight('#ffffff', 1.6);
sun.position.set(2, -3, 4);
scene3.add(sun);
const grid = new THREE.GridHelper(2, 20, '#b8bfcc', '#d6dbe4');
grid.rotation.x = Math.PI / 2;
scene3.add(grid);
const ROLE_COLORS: Record<string, { color: string; opacity: number }> = {
  robot: { color: '#f28c28', opacity: 1 },
  object: { color: '#3a6fd8', opacity: 1 },
  fixture: { color: '#aab2c0', opacity: 1 },
  target: { color: '#2ca02c', opacity: 0.45 },
  'keep-out': { color: '#d62728', opacity: 0.25 },
};

function renderSceneChoices(): void {
  const select = q<HTMLSelectElement>('#scene-file');
  const options = runs.filter((r) => selected.has(r.id)).flatMap((r) => r.scenes.map((f) => ({ run: r.id, file: f })));
  const key = (o: { run: string; file: string }): string => `${o.run}\n${o.file}`;
  const current = select.value;
  select.replaceChildren(
    ...options.map((o) => {
      const opt = document.createElement('option');
      opt.value = key(o);
      opt.textContent = `${o.run} / ${o.file}`;
      return opt;
    }),
  );
  if (options.length === 0) return;
  // Follow the newest recording unless the user picked one.
  const wanted = current && options.some((o) => key(o) === current) && select.dataset['picked'] ? current : key(options[options.length - 1] as { run: string; file: string });
  select.value = wanted;
  if (!sceneChoice || key(sceneChoice) !== wanted) chooseScene(wanted);
}

function chooseScene(value: string): void {
  const [run, file] = value.split('\n') as [string, string];
  sceneChoice = { run, file };
  shapeSets.length = 0;
  frames.length = 0;
  frameIndex = 0;
  meshesFor = -1;
  ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ op: 'scene', run, file }));
}

function onSceneLines(lines: Record<string, unknown>[], reset: boolean): void {
  if (reset) {
    shapeSets.length = 0;
    frames.length = 0;
  }
  const atEnd = frameIndex >= frames.length - 1;
  for (const l of lines) {
    if (l['type'] === 'scene' && Array.isArray(l['shapes'])) {
      shapeSets.push(l['shapes'] as Shape[]);
      if (typeof l['hz'] === 'number' && l['hz'] > 0) hz = l['hz'];
    } else if (l['type'] === 'frame' && Array.isArray(l['poses']) && shapeSets.length) {
      frames.push({ ...(l as unknown as Frame), shapes: shapeSets.length - 1 });
    }
  }
  const scrub = q<HTMLInputElement>('#scrub');
  scrub.max = String(Math.max(0, frames.length - 1));
  if (q<HTMLInputElement>('#follow').checked && atEnd && !playing) frameIndex = frames.length - 1;
  canvas.dataset['frames'] = String(frames.length);
}

function buildMeshes(set: number): void {
  for (const m of meshes) {
    scene3.remove(m);
    m.geometry.dispose();
  }
  const shapes = shapeSets[set] ?? [];
  meshes = shapes.map((s) => {
    const geometry =
      s.kind === 'box'
        ? new THREE.BoxGeometry(2 * (s.size[0] as number), 2 * (s.size[1] as number), 2 * (s.size[2] as number))
        : s.kind === 'sphere'
          ? new THREE.SphereGeometry(s.size[0], 24, 16)
          : s.kind === 'capsule'
            ? new THREE.CapsuleGeometry(s.size[0], 2 * (s.size[1] as number), 6, 16)
            : new THREE.CylinderGeometry(s.size[0], s.size[0], 2 * (s.size[1] as number), 24);
    const look = ROLE_COLORS[s.role] ?? (ROLE_COLORS['fixture'] as { color: string; opacity: number });
    const material = new THREE.MeshStandardMaterial({ color: look.color, transparent: look.opacity < 1, opacity: look.opacity, roughness: 0.6, metalness: 0.1, depthWrite: look.opacity === 1 });
    const mesh = new THREE.Mesh(geometry, material);
    mesh.name = s.name;
    scene3.add(mesh);
    return mesh;
  });
  meshesFor = set;
  canvas.dataset['shapes'] = String(meshes.length);
  frameCamera(set);
}

/** Looks at the robot from the front-left, far enough to see all of it. */
function frameCamera(set: number): void {
  const f = frames.find((x) => x.shapes === set);
  const shapes = shapeSets[set] ?? [];
  if (!f) return;
  const box = new THREE.Box3();
  shapes.forEach((s, i) => {
    if (s.role === 'fixture' && (s.size[0] as number) > 0.5) return; // a table or floor would push the camera away
    box.expandByPoint(new THREE.Vector3(f.poses[7 * i], f.poses[7 * i + 1], f.poses[7 * i + 2]));
  });
  const center = box.getCenter(new THREE.Vector3());
  const size = Math.max(0.8, box.getSize(new THREE.Vector3()).length());
  camera.position.set(center.x + 1.1 * size, center.y - 1.5 * size, center.z + 0.8 * size);
  camera.lookAt(center);
}

function applyFrame(f: Frame): void {
  if (meshesFor !== f.shapes) buildMeshes(f.shapes);
  meshes.forEach((m, i) => {
    const p = f.poses;
    m.position.set(p[7 * i] as number, p[7 * i + 1] as number, p[7 * i + 2] as number);
    m.quaternion.set(p[7 * i + 3] as number, p[7 * i + 4] as number, p[7 * i + 5] as number, p[7 * i + 6] as number);
  });
  q('#scene-info').textContent = `episode ${f.episode} · step ${f.t}${f.reward === undefined ? '' : ` · reward ${f.reward.toFixed(3)}`}${f.success ? ' · success' : ''} · frame ${frameIndex + 1}/${frames.length}`;
  q<HTMLInputElement>('#scrub').value = String(frameIndex);
}

function resize(): void {
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== w * devicePixelRatio || canvas.height !== h * devicePixelRatio) {
    renderer.setPixelRatio(devicePixelRatio);
    renderer.setSize(w, h, false);
    camera.aspect = w / Math.max(1, h);
    camera.updateProjectionMatrix();
  }
}

let lastTick = performance.now();
function animate(now: number): void {
  requestAnimationFrame(animate);
  if (q('#tab-scene').hidden || frames.length === 0) return;
  if (playing && now - lastTick >= 1000 / hz) {
    lastTick = now;
    if (frameIndex < frames.length - 1) frameIndex++;
    else if (!q<HTMLInputElement>('#follow').checked) frameIndex = 0; // loop a finished recording
  }
  resize();
  applyFrame(frames[Math.min(frameIndex, frames.length - 1)] as Frame);
  renderer.render(scene3, camera);
}

/** For tests and scripts: where a shape's centre is on the canvas (CSS px). */
(window as unknown as { roborlScene: unknown }).roborlScene = {
  get frames() {
    return frames.length;
  },
  project(name: string): { x: number; y: number } | null {
    const m = meshes.find((x) => x.name === name);
    if (!m) return null;
    const v = m.getWorldPosition(new THREE.Vector3()).project(camera);
    return { x: ((v.x + 1) / 2) * canvas.clientWidth, y: ((1 - v.y) / 2) * canvas.clientHeight };
  },
};

// ---- teleop -------------------------------------------------------------------------------

function renderTeleop(): void {
  const candidates = runs.filter((r) => r.teleop);
  const run = candidates.find((r) => selected.has(r.id)) ?? candidates[0];
  const frame = q<HTMLIFrameElement>('#teleop-frame');
  q('#teleop-none').hidden = !!run;
  frame.hidden = !run;
  const src = run ? `/teleop/${encodeURIComponent(run.id)}/?token=${encodeURIComponent(token)}` : '';
  if (frame.dataset['src'] !== src) {
    frame.dataset['src'] = src;
    frame.src = src || 'about:blank';
  }
}

// ---- wiring -------------------------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

for (const b of document.querySelectorAll<HTMLButtonElement>('.tabs button')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll<HTMLButtonElement>('.tabs button')) o.classList.toggle('on', o === b);
    for (const t of ['curves', 'scene', 'teleop']) q(`#tab-${t}`).hidden = t !== b.dataset['tab'];
    dirty = true;
  });
}
q('#group').addEventListener('change', () => (dirty = true));
q('#scene-file').addEventListener('change', (ev) => {
  const select = ev.target as HTMLSelectElement;
  select.dataset['picked'] = '1';
  chooseScene(select.value);
});
q('#play').addEventListener('click', () => {
  playing = !playing;
  q('#play').textContent = playing ? 'pause' : 'play';
});
q('#scrub').addEventListener('input', (ev) => {
  playing = false;
  q('#play').textContent = 'play';
  frameIndex = Number((ev.target as HTMLInputElement).value);
});

connect();
void refreshRuns();
setInterval(() => void refreshRuns(), 2000);
setInterval(renderCharts, 500);
requestAnimationFrame(animate);

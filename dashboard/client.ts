/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard page (bundled by dashboard/server.ts with esbuild). Runs on the left; curves
 * (uPlot), the recorded scene (three.js) and the teleop panel on the right. Everything arrives
 * over one WebSocket as the run folders' files grow, and is checked on arrival
 * (`protocol.ts`, `page/series.ts`, `page/frames.ts`) and shown as text (`page/dom.ts`). This
 * file wires the parts: the run list (`page/runs.ts`), curves (`page/charts.ts`), scene
 * (`page/scene.ts`) and teleop panel (`page/teleop.ts`).
 */
import { parseRunList, parseServerMessage, type ServerMessage } from './protocol.js';
import { renderCharts } from './page/charts.js';
import { h, q } from './page/dom.js';
import { RunIdentity } from './page/identity.js';
import { renderRuns } from './page/runs.js';
import { CameraPanel, parseCameraList } from './page/cameras.js';
import { SceneView } from './page/scene.js';
import { SeriesStore } from './page/series.js';
import { chosenRuns, type PageState } from './page/state.js';
import { renderTeleop } from './page/teleop.js';

const token = new URLSearchParams(location.search).get('token') ?? '';
const state: PageState = { runs: [], selected: new Set(storedSelection()), series: new SeriesStore(), identity: new RunIdentity(), group: false, dirty: true };
const view = new SceneView();
const cameras = new CameraPanel(q('#scene-cameras'));
const problems: string[] = [];
let ws: WebSocket | null = null;
let sceneChoice: { run: string; file: string } | null = null;

function storedSelection(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem('roborl.selected') ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

// ---- runs ---------------------------------------------------------------------------------

async function refreshRuns(): Promise<void> {
  try {
    const res = await fetch(`/api/runs?token=${encodeURIComponent(token)}`);
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    const parsed = parseRunList(await res.json());
    if (typeof parsed === 'string') throw new Error(parsed);
    for (const p of parsed.problems) problem(`run list: ${p}`);
    q('#runs-dir').textContent = parsed.list.runsDir;
    const first = state.runs.length === 0;
    state.runs = parsed.list.runs;
    state.identity.update(state.runs);
    if (first && state.selected.size === 0) for (const r of [...state.runs].sort((a, b) => b.updated - a.updated).slice(0, 3)) state.selected.add(r.id); // the newest
    for (const id of [...state.selected]) if (!state.runs.some((r) => r.id === id)) state.selected.delete(id);
    for (const r of state.runs) for (const p of r.problems) problem(`${state.identity.label(r.id)}: ${p}`);
    renderRuns(state, toggle);
    if (first) watch();
    renderSceneChoices();
    renderTeleop(state, token);
  } catch (err) {
    problem(`run list: ${(err as Error).message}`);
  }
}

function toggle(id: string, on: boolean): void {
  if (on) state.selected.add(id);
  else {
    state.selected.delete(id);
    state.series.drop(id);
  }
  localStorage.setItem('roborl.selected', JSON.stringify([...state.selected]));
  renderRuns(state, toggle);
  watch();
  renderSceneChoices();
  renderTeleop(state, token);
  state.dirty = true;
}

function problem(message: string): void {
  if (problems.includes(message)) return;
  problems.push(message);
  if (problems.length > 50) problems.shift();
  q('#problems').replaceChildren(...problems.map((p) => h('div', {}, p)));
}

// ---- live data ----------------------------------------------------------------------------

function connect(): void {
  const url = new URL(`ws?token=${encodeURIComponent(token)}`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(url.href);
  ws.onopen = () => {
    q('#link').textContent = 'live';
    state.series.clear();
    watch();
    if (sceneChoice) ws?.send(JSON.stringify({ op: 'scene', ...sceneChoice }));
  };
  ws.onclose = () => {
    q('#link').textContent = 'reconnecting…';
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    let m: ServerMessage | string;
    try {
      m = parseServerMessage(JSON.parse(String(ev.data)));
    } catch {
      m = 'a message that is not JSON';
    }
    if (typeof m === 'string') problem(`server: ${m}`);
    else onMessage(m);
  };
}

function watch(): void {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: 'watch', runs: [...state.selected] }));
}

function onMessage(m: ServerMessage): void {
  switch (m.op) {
    case 'records': {
      if (m.reset) state.series.drop(m.run);
      for (const p of state.series.add(m.run, m.records)) problem(`${state.identity.label(m.run)}: ${p}`);
      state.dirty = true;
      break;
    }
    case 'problem':
      problem(`${m.run === undefined ? '' : `${state.identity.label(m.run)}: `}${m.message}`);
      break;
    case 'scene-lines': {
      if (!sceneChoice || m.run !== sceneChoice.run || m.file !== sceneChoice.file) return;
      const bad = view.addLines(m.lines, m.reset);
      if (bad) problem(`${m.file}: ${bad} malformed line(s) skipped`);
      break;
    }
    default: {
      const never: never = m;
      return never;
    }
  }
}

// ---- scene choice -------------------------------------------------------------------------

function renderSceneChoices(): void {
  const select = q('#scene-file', HTMLSelectElement);
  const options = chosenRuns(state).flatMap((r) => r.scenes.map((f) => ({ run: r.id, file: f })));
  const key = (o: { run: string; file: string }): string => `${o.run}\n${o.file}`;
  const current = select.value;
  select.replaceChildren(
    ...options.map((o) => {
      const opt = h('option', {}, `${state.identity.label(o.run)} / ${o.file}`);
      opt.value = key(o);
      return opt;
    }),
  );
  const newest = options.at(-1);
  if (!newest) return;
  // Follow the newest recording unless the user picked one.
  const wanted = current && options.some((o) => key(o) === current) && select.dataset['picked'] ? current : key(newest);
  select.value = wanted;
  if (!sceneChoice || key(sceneChoice) !== wanted) chooseScene(wanted);
}

function chooseScene(value: string): void {
  const [run = '', file = ''] = value.split('\n');
  sceneChoice = { run, file };
  view.clear();
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: 'scene', run, file }));
  void showCameras(run, file);
}

/** The run's cameras beside the 3D view (issue 23): each frame the view draws, as each camera saw it. */
async function showCameras(run: string, file: string): Promise<void> {
  cameras.setCameras([]);
  view.onFrame = null;
  try {
    const res = await fetch(`/api/cameras?token=${encodeURIComponent(token)}&run=${encodeURIComponent(run)}`);
    if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 200)}`);
    const list = parseCameraList(await res.json());
    if (typeof list === 'string') throw new Error(list);
    if (sceneChoice?.run !== run || sceneChoice.file !== file) return; // another recording chosen meanwhile
    cameras.setCameras(list);
    const base = `/api/camera?token=${encodeURIComponent(token)}&run=${encodeURIComponent(run)}&file=${encodeURIComponent(file)}`;
    view.onFrame = (f) => cameras.show(`${f.episode}:${f.t}`, (camera) => `${base}&episode=${f.episode}&t=${f.t}&camera=${encodeURIComponent(camera)}`);
  } catch (err) {
    problem(`cameras of ${state.identity.label(run)}: ${(err as Error).message}`);
  }
}

// ---- wiring -------------------------------------------------------------------------------

for (const b of document.querySelectorAll<HTMLButtonElement>('.tabs button')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll<HTMLButtonElement>('.tabs button')) o.classList.toggle('on', o === b);
    for (const t of ['curves', 'scene', 'teleop']) q(`#tab-${t}`).hidden = t !== b.dataset['tab'];
    state.dirty = true;
  });
}
q('#group', HTMLInputElement).addEventListener('change', (ev) => {
  state.group = ev.target instanceof HTMLInputElement && ev.target.checked;
  state.dirty = true;
  renderRuns(state, toggle); // the swatches show the groups' colours
});
q('#scene-file', HTMLSelectElement).addEventListener('change', (ev) => {
  if (!(ev.target instanceof HTMLSelectElement)) return;
  ev.target.dataset['picked'] = '1';
  chooseScene(ev.target.value);
});
q('#play').addEventListener('click', () => {
  view.playing = !view.playing;
  q('#play').textContent = view.playing ? 'pause' : 'play';
});
q('#scrub', HTMLInputElement).addEventListener('input', (ev) => {
  view.playing = false;
  q('#play').textContent = 'play';
  if (ev.target instanceof HTMLInputElement) view.frameIndex = Number(ev.target.value);
});

/** For tests and scripts: how many frames the view holds, and where a shape is on the canvas. */
Object.assign(window, {
  roborlScene: {
    get frames() {
      return view.recording.frames.length;
    },
    project: (name: string) => view.project(name),
  },
});

function animate(now: number): void {
  requestAnimationFrame(animate);
  view.tick(now);
}

connect();
void refreshRuns();
setInterval(() => void refreshRuns(), 2000);
setInterval(() => renderCharts(state), 500);
requestAnimationFrame(animate);

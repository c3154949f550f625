/// <reference lib="dom" />
import uPlot from 'uplot';
import { aggregate } from '../../analysis/curves.js';
import { h, q } from './dom.js';
import { chosenRuns, type PageState } from './state.js';

const ORDER = [/^eval\.returnMean$/, /^eval\.successRate$/, /^episode\.return$/, /^eval\.costMeans\./, /^episode\.costs\./, /lambda/i, /^episode\.human\.rate$/, /interventionRate/, /loss/i, /alpha/i, /^train\.updatesPerSec$/, /^train\.envStepsPerSec$/];
const TITLES: Readonly<Record<string, string>> = {
  'eval.returnMean': 'evaluation return',
  'eval.successRate': 'evaluation success rate',
  'episode.return': 'training episode return',
  'episode.human.rate': 'intervention rate (share of steps a person drove)',
  'train.updatesPerSec': 'updates / s',
  'train.envStepsPerSec': 'env steps / s',
};

const charts = new Map<string, { u: uPlot; el: HTMLElement; signature: string }>();

/** A metric's chart title. */
export function title(key: string): string {
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

/** One uPlot chart per metric the ticked runs have, in the order people look for them. */
export function renderCharts(state: PageState): void {
  if (!state.dirty) return;
  state.dirty = false;
  const keys = new Set<string>();
  for (const id of state.selected) for (const k of state.series.metrics(id)) keys.add(k);
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
  for (const key of sorted) {
    const { data, seriesOpts, bands, points, lastStep } = chartData(state, key);
    const signature = JSON.stringify(seriesOpts.map((s) => [s.label, s.stroke]));
    let c = charts.get(key);
    if (c && c.signature !== signature) {
      c.u.destroy();
      c.el.remove();
      charts.delete(key);
      c = undefined;
    }
    if (!c) {
      const el = h('div', { className: 'chart', data: { metric: key } }, h('h4', {}, title(key)));
      const width = Math.max(380, Math.floor(container.clientWidth / Math.max(1, Math.floor(container.clientWidth / 440))) - 14);
      const u = new uPlot({ width, height: 220, scales: { x: { time: false } }, series: [{ label: 'step' }, ...seriesOpts], bands, legend: { live: false }, axes: [{ size: 30 }, { size: 60 }] }, data, el);
      // The CI band's edges are series too: keep them out of the legend.
      for (const row of el.querySelectorAll<HTMLElement>('.u-legend tr.band-edge')) row.style.display = 'none';
      c = { u, el, signature };
      charts.set(key, c);
    } else c.u.setData(data);
    c.el.dataset['points'] = String(points);
    c.el.dataset['lastStep'] = String(lastStep);
    container.appendChild(c.el); // keeps the order
  }
}

interface Line {
  label: string;
  color: string;
  x: readonly number[];
  y: readonly number[];
  lo?: number[];
  hi?: number[];
}

/** A chart's lines: one per ticked run, or per config name (mean ± 95% CI); colours and labels from the run's identity. */
function chartData(state: PageState, key: string): { data: uPlot.AlignedData; seriesOpts: uPlot.Series[]; bands: uPlot.Band[]; points: number; lastStep: number } {
  const lines: Line[] = [];
  const chosen = chosenRuns(state);
  if (state.group) {
    const groups = new Map<string, string[]>();
    for (const r of chosen) groups.set(r.name, [...(groups.get(r.name) ?? []), r.id]);
    for (const [name, members] of groups) {
      const curve = aggregate(
        members.map((id) => {
          const s = state.series.get(id, key);
          return s ? s.x.map((step, i) => ({ step, value: s.y[i] as number })) : [];
        }),
        60,
        400,
      );
      if (curve.length) lines.push({ label: `${name} (${Math.max(...curve.map((p) => p.n))} seeds)`, color: state.identity.groupColor(name), x: curve.map((p) => p.step), y: curve.map((p) => p.mean), lo: curve.map((p) => p.lo), hi: curve.map((p) => p.hi) });
    }
  } else {
    for (const r of chosen) {
      const s = state.series.get(r.id, key);
      if (s) lines.push({ label: state.identity.label(r.id), color: state.identity.color(r.id), x: s.x, y: s.y });
    }
  }
  const xs = [...new Set(lines.flatMap((l) => l.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const column = (l: Line, v: readonly number[]): (number | null)[] => {
    const out = new Array<number | null>(xs.length).fill(null);
    l.x.forEach((x, i) => (out[at.get(x) ?? 0] = v[i] ?? null));
    return out;
  };
  const data: (number | null)[][] = [xs];
  const seriesOpts: uPlot.Series[] = [];
  const bands: uPlot.Band[] = [];
  let points = 0;
  for (const l of lines) {
    data.push(column(l, l.y));
    points += l.y.length;
    seriesOpts.push({ label: l.label, stroke: l.color, width: 1.5, spanGaps: true, points: { show: l.x.length < 60 } });
    if (l.lo && l.hi) {
      data.push(column(l, l.hi), column(l, l.lo));
      const hiIdx = data.length - 2;
      const edge = { stroke: `${l.color}55`, width: 0.5, spanGaps: true, points: { show: false }, class: 'band-edge' };
      seriesOpts.push({ label: `${l.label} hi`, ...edge }, { label: `${l.label} lo`, ...edge });
      bands.push({ series: [hiIdx, hiIdx + 1], fill: `${l.color}22` });
    }
  }
  return { data: data as uPlot.AlignedData, seriesOpts, bands, points, lastStep: xs.at(-1) ?? 0 };
}

/// <reference lib="dom" />
import type { EvalSummary } from '../protocol.js';
import { h, q } from './dom.js';
import type { PageState } from './state.js';

const fmt = (e: EvalSummary | null): string => (e ? `${e.returnMean.toFixed(1)}${e.successRate ? ` · ${(100 * e.successRate).toFixed(0)}%` : ''}` : '–');

/**
 * The run list: a tick box, the run's colour and name (as every chart's legend shows them),
 * env, state, steps, last and best evaluation. Built from elements and text only.
 */
export function renderRuns(state: PageState, onToggle: (id: string, on: boolean) => void): void {
  q('#runs tbody').replaceChildren(
    ...state.runs.map((r) => {
      const box = h('input');
      box.type = 'checkbox';
      box.checked = state.selected.has(r.id);
      box.addEventListener('change', () => onToggle(r.id, box.checked));
      const color = state.group ? state.identity.groupColor(r.name) : state.identity.color(r.id);
      return h(
        'tr',
        { className: state.selected.has(r.id) ? 'sel' : '', data: { run: r.id } },
        h('td', {}, box),
        h('td', { title: r.id }, h('span', { className: 'swatch', color }), h('span', { className: 'run-label' }, state.identity.label(r.id))),
        h('td', {}, r.env),
        h('td', { className: `state-${/^[a-z]+$/.test(r.state) ? r.state : 'unknown'}` }, r.state),
        h('td', {}, `${r.step}${r.steps ? `/${r.steps}` : ''}`),
        h('td', {}, fmt(r.lastEval)),
        h('td', {}, fmt(r.bestEval)),
      );
    }),
  );
}

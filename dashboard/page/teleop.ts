/// <reference lib="dom" />
import { q } from './dom.js';
import type { PageState } from './state.js';

/** The teleop panel: the first ticked running run with a teleop page (or any such run), through the dashboard's relay. */
export function renderTeleop(state: PageState, token: string): void {
  const candidates = state.runs.filter((r) => r.teleop);
  const run = candidates.find((r) => state.selected.has(r.id)) ?? candidates[0];
  const frame = q('#teleop-frame', HTMLIFrameElement);
  q('#teleop-none').hidden = !!run;
  frame.hidden = !run;
  const src = run ? `/teleop/${encodeURIComponent(run.id)}/?token=${encodeURIComponent(token)}` : '';
  if (frame.dataset['src'] !== src) {
    frame.dataset['src'] = src;
    frame.src = src || 'about:blank';
  }
}

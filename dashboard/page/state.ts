import type { RunRow } from '../protocol.js';
import type { RunIdentity } from './identity.js';
import type { SeriesStore } from './series.js';

/** What the page's parts share: the listed runs, the ticked ones, their curves and identities. */
export interface PageState {
  runs: readonly RunRow[];
  readonly selected: Set<string>;
  readonly series: SeriesStore;
  readonly identity: RunIdentity;
  /** Runs grouped by config name (mean ± 95% CI) instead of one line per run. */
  group: boolean;
  /** The curves need drawing again. */
  dirty: boolean;
}

/** The ticked runs, in list order. */
export function chosenRuns(state: PageState): RunRow[] {
  return state.runs.filter((r) => state.selected.has(r.id));
}

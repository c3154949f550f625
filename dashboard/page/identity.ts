import type { RunRow } from '../protocol.js';

/** Line colours (d3's category10). */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/**
 * One colour and one name per run, the same in the run list and in every chart: a colour is
 * given to a run (or, grouped, to a config name) the first time it is listed and kept for the
 * page's life — not taken from a line's position in one chart, which changes with the runs that
 * chart happens to have. A new run takes a colour no listed run has, while there is one.
 */
export class RunIdentity {
  private readonly colors = new Map<string, string>();
  private labels = new Map<string, string>();

  /** Takes in a new run list: colours for new runs and config names, and every run's label. */
  update(runs: readonly RunRow[]): void {
    this.assign(runs.map((r) => r.id));
    this.assign([...new Set(runs.map((r) => groupKey(r.name)))]);
    const base = new Map(runs.map((r) => [r.id, `${r.name}${r.seed === null ? '' : ` s${r.seed}`}`]));
    const count = new Map<string, number>();
    for (const l of base.values()) count.set(l, (count.get(l) ?? 0) + 1);
    // Two folders of one config and seed: the folder tells them apart.
    this.labels = new Map([...base].map(([id, l]) => [id, (count.get(l) ?? 0) > 1 ? `${l} (${id})` : l]));
  }

  /** A run's colour. */
  color(id: string): string {
    return this.colors.get(id) ?? (PALETTE[0] as string);
  }

  /** The colour of a config name's group (runs grouped by config name). */
  groupColor(name: string): string {
    return this.colors.get(groupKey(name)) ?? (PALETTE[0] as string);
  }

  /** A run's name, as the list and the legends show it: config name and seed. */
  label(id: string): string {
    return this.labels.get(id) ?? id;
  }

  private assign(keys: readonly string[]): void {
    const live = new Set(keys.map((k) => this.colors.get(k)).filter((c) => c !== undefined));
    for (const k of keys) {
      if (this.colors.has(k)) continue;
      const free = PALETTE.find((c) => !live.has(c)) ?? (PALETTE[this.colors.size % PALETTE.length] as string);
      this.colors.set(k, free);
      live.add(free);
    }
  }
}

function groupKey(name: string): string {
  return `group\n${name}`;
}

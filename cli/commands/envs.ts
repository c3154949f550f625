import { flatSize } from '../../control/spaces.js';
import { envEntry, listEnvs, make } from '../../tasks/registry.js';
import { allowFlags, type Args } from '../args.js';

/** One row of `roborl envs --json`. */
export interface EnvRow {
  readonly id: string;
  readonly observationSize: number;
  readonly actionSize: number;
  readonly actionKind: 'box' | 'discrete';
  readonly controlHz: number;
  readonly maxEpisodeSteps: number | null;
  readonly constraints: readonly string[];
  readonly scripted: boolean;
  readonly summary: string;
}

export async function envRows(): Promise<EnvRow[]> {
  const rows: EnvRow[] = [];
  for (const id of listEnvs()) {
    const env = await make(id);
    const { spec } = env;
    const entry = envEntry(id);
    rows.push({
      id,
      observationSize: spec.observationSpace.low.length,
      actionSize: flatSize(spec.actionSpace),
      actionKind: spec.actionSpace.kind,
      controlHz: spec.controlHz,
      maxEpisodeSteps: spec.maxEpisodeSteps,
      constraints: spec.constraints,
      scripted: entry.scripted !== undefined,
      summary: entry.summary,
    });
    await env.close();
  }
  return rows;
}

/** `roborl envs [--json]`: the registered environments. */
export async function envsCommand(args: Args): Promise<void> {
  allowFlags(args, 'envs', ['json']);
  const rows = await envRows();
  if (args.flags.has('json')) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const header = ['id', 'obs', 'act', 'Hz', 'steps', 'constraints'];
  const table = rows.map((r) => [r.id, String(r.observationSize), `${r.actionSize}${r.actionKind === 'discrete' ? 'd' : ''}`, String(r.controlHz), String(r.maxEpisodeSteps ?? '∞'), r.constraints.join(',')]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => (row[c] as string).length)));
  const fmt = (row: string[]): string => row.map((cell, c) => cell.padEnd(widths[c] as number)).join('  ');
  process.stdout.write(`${fmt(header)}\n${table.map(fmt).join('\n')}\n`);
  for (const r of rows) process.stdout.write(`\n${r.id}: ${r.summary}`);
  process.stdout.write('\n');
}

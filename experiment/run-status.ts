import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../policies/binary-file.js';

/**
 * A run folder's `status.json`: what the run is doing, for the dashboard's run list. `train`
 * writes it at the start and at the end; a run killed outright (SIGKILL, power) stays `running`
 * with a pid that no longer exists, which {@link readRunStatus} reports as `killed`.
 */
export interface RunStatus {
  readonly state: 'running' | 'finished' | 'stopped' | 'failed';
  readonly pid: number;
  readonly step: number;
  readonly steps: number;
  /** ms since epoch of this write. */
  readonly at?: number;
  readonly error?: string;
}

export function writeRunStatus(runDir: string, status: RunStatus): void {
  writeFileAtomic(join(runDir, 'status.json'), `${JSON.stringify({ ...status, at: Date.now() })}\n`);
}

/** A status as shown: `killed` for a `running` run whose process is gone. */
export type RunStatusView = Omit<RunStatus, 'state'> & { state: RunStatus['state'] | 'killed' };

const STATES: readonly RunStatus['state'][] = ['running', 'finished', 'stopped', 'failed'];

/**
 * Checks a status.json text field by field (it comes from disk: a half-written, hand-edited or
 * hostile file must not reach the dashboard's page as anything but these types). A string names
 * what is wrong.
 */
export function parseRunStatus(text: string): RunStatus | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'status.json: not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'status.json: expected an object';
  const state = 'state' in v ? v.state : undefined;
  const pid = 'pid' in v ? v.pid : undefined;
  const step = 'step' in v ? v.step : undefined;
  const steps = 'steps' in v ? v.steps : undefined;
  const at = 'at' in v ? v.at : undefined;
  const error = 'error' in v ? v.error : undefined;
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  const found = STATES.find((s) => s === state);
  if (!found) return `status.json: expected state to be one of ${STATES.join(', ')}`;
  if (!count(pid) || pid === 0) return 'status.json: expected pid to be a positive integer';
  if (!count(step) || !count(steps)) return 'status.json: expected step and steps to be non-negative integers';
  if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at))) return 'status.json: expected at to be a time in ms';
  if (error !== undefined && typeof error !== 'string') return 'status.json: expected error to be a string';
  return { state: found, pid, step, steps, ...(at === undefined ? {} : { at }), ...(error === undefined ? {} : { error }) };
}

/** `killed` for a `running` status whose process is gone. */
export function statusView(s: RunStatus): RunStatusView {
  return s.state === 'running' && !alive(s.pid) ? { ...s, state: 'killed' } : s;
}

/** The run's status, `killed` for a `running` run whose process is gone, or null without a (readable, valid) status file. */
export function readRunStatus(runDir: string): RunStatusView | null {
  let text: string;
  try {
    text = readFileSync(join(runDir, 'status.json'), 'utf8');
  } catch {
    return null;
  }
  const s = parseRunStatus(text);
  return typeof s === 'string' ? null : statusView(s);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

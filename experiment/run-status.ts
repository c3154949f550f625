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

/** The run's status, `killed` for a `running` run whose process is gone, or null without a (readable) status file. */
export function readRunStatus(runDir: string): (Omit<RunStatus, 'state'> & { state: RunStatus['state'] | 'killed' }) | null {
  let s: RunStatus;
  try {
    s = JSON.parse(readFileSync(join(runDir, 'status.json'), 'utf8')) as RunStatus;
  } catch {
    return null;
  }
  if (s.state === 'running' && !alive(s.pid)) return { ...s, state: 'killed' };
  return s;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['control', 'sim', 'tasks', 'robots', 'policies', 'hil', 'experiment', 'analysis', 'dashboard', 'cli', 'bench', 'test'];

/** Every .ts file of ours → the .ts files it imports (relative imports, type-only ones included). */
function importGraph(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (e === 'node_modules' || e.startsWith('.')) continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ts') && !e.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const f of FOLDERS) walk(join(ROOT, f));
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g)].map((m) => resolve(dirname(f), (m[1] as string).replace(/\.js$/, '.ts')));
    graph.set(relative(ROOT, f), deps.map((d) => relative(ROOT, d)).filter((d) => d.endsWith('.ts')));
  }
  return graph;
}

/** The import circles (strongly connected components of more than one file, or a file importing itself). */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
        on.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('the import graph', () => {
  const graph = importGraph();

  it('has no circles (experiment/setup.ts and experiment/teleop.ts imported each other)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(circles(graph)).toEqual([]);
  });

  it('tasks sit above the engines: sim/ never imports tasks/, tasks/ imports only control/ and sim/ (robots/ uses tasks/ as the simulator does)', () => {
    const library = [...graph].filter(([f]) => !f.endsWith('.test.ts'));
    const simToTasks = library.filter(([f, deps]) => f.startsWith('sim/') && deps.some((d) => d.startsWith('tasks/'))).map(([f]) => f);
    const tasksOut = library.filter(([f, deps]) => f.startsWith('tasks/') && deps.some((d) => !/^(tasks|sim|control)\//.test(d))).map(([f]) => f);
    expect(simToTasks).toEqual([]);
    expect(tasksOut).toEqual([]);
    expect(library.some(([f]) => f.startsWith('tasks/'))).toBe(true);
  });

  it('benchmarks and the library do not import commands (demo recording lives in experiment/demos.ts)', () => {
    const offenders = [...graph].filter(([f, deps]) => !f.startsWith('cli/') && !f.startsWith('test/') && !f.endsWith('.test.ts') && deps.some((d) => d.startsWith('cli/commands/'))).map(([f]) => f);
    expect(offenders).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { MAX_FRAMES, SceneFrames } from './frames.js';
import { RunIdentity } from './identity.js';
import { MAX_METRICS, MAX_POINTS, SeriesStore } from './series.js';

describe('the page’s curves, frames and run identities (pure parts)', () => {
  it('curves take only finite numbers from well-formed records, and stay bounded while covering the whole run', () => {
    const s = new SeriesStore();
    const refused = s.add('r', [{ type: 'eval', step: 1, returnMean: 2, note: '<b>', costMeans: { a: 0.5, b: 'x' } }, { type: 5, step: 2 }, { step: 3 }, null, 'text', { type: 'eval', step: Number.NaN, returnMean: 1 }]);
    expect([...s.metrics('r')].sort()).toEqual(['eval.costMeans.a', 'eval.returnMean']);
    expect(refused).toHaveLength(1);
    for (let i = 2; i <= 3 * MAX_POINTS; i++) s.add('r', [{ type: 'eval', step: i, returnMean: i }]);
    const p = s.get('r', 'eval.returnMean');
    expect(p?.x.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(p?.x.length).toBeGreaterThan(MAX_POINTS / 2);
    expect(p?.x[0]).toBe(1);
    expect(p?.x.at(-1)).toBe(3 * MAX_POINTS);
    expect(p?.x.every((x, i) => i === 0 || x > (p.x[i - 1] as number))).toBe(true);
    const many = s.add('r', [Object.fromEntries([['type', 'train'], ['step', 1], ...Array.from({ length: 2 * MAX_METRICS }, (_, i) => [`m${i}`, i])])]);
    expect([...s.metrics('r')].length).toBe(MAX_METRICS);
    expect(many.join()).toMatch(/more than 200 metrics/);
  });

  it('frames need a valid scene line and 7 finite numbers per shape; the oldest are dropped past the bound', () => {
    const f = new SceneFrames();
    const shapes = [{ name: 'rod', kind: 'capsule', size: [0.02, 0.5], role: 'robot' }];
    expect(f.add([{ type: 'frame', episode: 0, t: 0, poses: [0, 0, 0, 0, 0, 0, 1] }]).bad).toBe(1); // before any scene line
    expect(f.add([{ type: 'scene', hz: 1e9, shapes: [{ ...shapes[0], kind: 'torus' }] }, { type: 'frame', episode: 0, t: 0, poses: [0, 0, 0, 0, 0, 0, 1] }]).bad).toBe(2);
    expect(f.add([{ type: 'scene', hz: 50, shapes }, { type: 'frame', episode: 0, t: 0, poses: [0, 0, 0, 0, 0, 1] }, { type: 'frame', episode: '0', t: 1, poses: [0, 0, 0, 0, 0, 0, 1] }, { type: 'frame', episode: 0, t: 2, poses: [0, 0, 0, 0, 0, 0, 1], reward: 'x' }]).bad).toBe(2);
    expect(f.hz).toBe(50);
    expect(f.frames.map((x) => [x.t, x.reward])).toEqual([[2, undefined]]);
    let dropped = 0;
    for (let t = 3; t < 3 + 2 * MAX_FRAMES; t++) dropped += f.add([{ type: 'frame', episode: 0, t, poses: [0, 0, 0, 0, 0, 0, 1] }]).dropped;
    expect(f.frames.length).toBeLessThanOrEqual(MAX_FRAMES);
    expect(f.frames.at(-1)?.t).toBe(2 + 2 * MAX_FRAMES);
    expect(dropped + f.frames.length).toBe(1 + 2 * MAX_FRAMES);
  });

  it('a mesh shape needs its triangles: finite vertices and faces that index them; anything else is a bad line, not a crash', () => {
    const tri = { vertices: [0, 0, 0, 0.1, 0, 0, 0, 0.1, 0], faces: [0, 1, 2] };
    const mesh = (m: unknown) => ({ type: 'scene', hz: 25, shapes: [{ name: 'link#0', kind: 'mesh', size: [0.1, 0.1, 1e-6], role: 'robot', mesh: m }] });
    const frame = { type: 'frame', episode: 0, t: 0, poses: [0, 0, 0, 0, 0, 0, 1] };
    const f = new SceneFrames();
    expect(f.add([mesh(tri), frame]).bad).toBe(0);
    expect(f.frames[0]?.shapes[0]?.mesh?.faces).toEqual([0, 1, 2]);
    for (const bad of [undefined, '<svg onload=alert(1)>', { ...tri, faces: [0, 1, 3] }, { ...tri, faces: [0, 1, 1.5] }, { ...tri, faces: [0, 1, -1] }, { ...tri, vertices: [0, 0, 0, 0.1, 0, 0, 0, 0.1, 'x'] }, { ...tri, vertices: [0, 0, 0, 1, 1] }, { vertices: [], faces: [] }]) {
      const g = new SceneFrames();
      expect(g.add([mesh(bad), frame]).bad, JSON.stringify(bad)).toBe(2); // the scene line, then its frame
    }
  });

  it('a run keeps its colour when other runs come and go; labels are name and seed, told apart by folder when they clash', () => {
    const row = (id: string, name: string, seed: number | null) => ({ id, name, env: 'e', algo: 'sac', seed, state: 'finished', step: 0, steps: null, lastEval: null, bestEval: null, scenes: [], teleop: false, problems: [], updated: 0 });
    const ids = new RunIdentity();
    ids.update([row('b', 'sac', 1)]);
    const b = ids.color('b');
    ids.update([row('a', 'sac', 0), row('b', 'sac', 1), row('c', 'sac', 1)]);
    expect(ids.color('b')).toBe(b);
    expect(new Set(['a', 'b', 'c'].map((i) => ids.color(i))).size).toBe(3);
    expect(['a', 'b', 'c'].map((i) => ids.label(i))).toEqual(['sac s0', 'sac s1 (b)', 'sac s1 (c)']);
  });
});

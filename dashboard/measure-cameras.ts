/**
 * What a camera frame costs the dashboard (issue 23): `GET /api/camera` round trips — the recording
 * parsed once, then each frame rendered by sim/camera and PNG-encoded — for every step of a
 * recorded PandaReach-v0 evaluation episode, front 64×64 and wrist 64×64 presets, over loopback.
 * Run: `npx tsx dashboard/measure-cameras.ts` (prints one JSON line).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SceneRecorder } from '../control/scene.js';
import { make } from '../tasks/registry.js';
import { Dashboard } from './server.js';

const root = mkdtempSync(join(tmpdir(), 'roborl-camera-latency-'));
const dir = join(root, 'pix-0');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'metrics.jsonl'), '{"type":"eval","step":100,"returnMean":-1,"successRate":0}\n');
writeFileSync(join(dir, 'config.yaml'), 'name: pix\nenv:\n  id: PandaReach-v0\n  options:\n    cameras: [front, wrist]\nseed: 0\nalgo: { kind: sac }\ntrain: { steps: 300 }\n');
const env = new SceneRecorder(await make('PandaReach-v0'));
env.recordNext(join(dir, 'scenes', 'eval-1.scene.jsonl'), 1);
await env.reset({ seed: 3 });
let steps = 0;
for (let done = false; !done; steps++) {
  const r = await env.step(Float32Array.of(0.3, 0.2, 0, -0.2, 0, 0.3, 0));
  done = r.terminated || r.truncated;
}
await env.close();
const d = await Dashboard.open({ runsDir: root });
const u = new URL(d.url);
async function get(t: number, camera: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(`http://${u.host}/api/camera?token=${u.searchParams.get('token')}&run=pix-0&file=eval-1.scene.jsonl&episode=0&t=${t}&camera=${camera}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`${res.status} ${body.toString()}`);
  return { ms: performance.now() - t0, bytes: body.length };
}
const cold = await get(0, 'front');
const rows: Record<string, { ms: number[]; bytes: number[] }> = { front: { ms: [], bytes: [] }, wrist: { ms: [], bytes: [] } };
for (let t = 0; t <= steps; t++) {
  for (const [camera, row] of Object.entries(rows)) {
    const r = await get(t, camera);
    row.ms.push(r.ms);
    row.bytes.push(r.bytes);
  }
}
const at = (a: number[], q: number): number => [...a].sort((x, y) => x - y)[Math.floor(a.length * q)] ?? NaN;
const summary = Object.fromEntries(Object.entries(rows).map(([c, r]) => [c, { medianMs: +at(r.ms, 0.5).toFixed(2), p90Ms: +at(r.ms, 0.9).toFixed(2), medianPngBytes: at(r.bytes, 0.5) }]));
process.stdout.write(`${JSON.stringify({ frames: steps + 1, coldMs: +cold.ms.toFixed(1), ...summary })}\n`);
await d.close();
rmSync(root, { recursive: true, force: true });

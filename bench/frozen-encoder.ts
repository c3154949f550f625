/**
 * A frozen encoder against a trained one (issue 23 item 4): RLPD updates at the pixel reach
 * config's size (4 critics of 256x256, batch 64, 16 filters, 64x64 front camera), BLIS on one
 * thread, the two learners interleaved in one process; CPU ms per update. `npx tsx bench/frozen-encoder.ts`
 */
import { Rng } from '../control/rng.js';
import { loadBlasKernels } from '../policies/kernels/blas.js';
import { selectBackend } from '../policies/backend.js';
import { randomBatch } from './learner.js';
import { resolveSacConfig, SacConfigSchema } from '../policies/sac/config.js';
import { SacLearner } from '../policies/sac/sac.js';
await selectBackend('wasm');
const kernels = await loadBlasKernels({ threads: 1 });
const CAM = [{ name: 'front', height: 64, width: 64, channels: 3 }];
const make = (frozen: boolean) => { const rng = new Rng(0); const l = new SacLearner(resolveSacConfig(SacConfigSchema.parse({ kind: 'sac', preset: 'rlpd', critics: 4, criticSubset: 2, batchSize: 64, encoder: { kind: 'conv', filters: 16, strides: [2, 2, 1, 1], features: 50, pad: 4, frozen } })), 17, 7, rng, [], 0, kernels, CAM); return { l, b: randomBatch(rng, { capacity: 1, obsDim: 17, actDim: 7, costDim: 0, cameras: CAM }, 64, 0.99) }; };
const v = [make(false), make(true)]; const cpu = [0, 0]; const n = [0, 0];
for (const x of v) for (let k = 0; k < 3; k++) x.l.update([x.b]);
for (let round = 0; round < 12; round++) for (const i of round % 2 ? [1, 0] : [0, 1]) { const c0 = process.cpuUsage(); for (let k = 0; k < 3; k++) v[i]!.l.update([v[i]!.b]); const c = process.cpuUsage(c0); cpu[i]! += (c.user + c.system) / 1000; n[i]! += 3; }
console.log(JSON.stringify({ trainedEncoderCpuMs: (cpu[0]! / n[0]!).toFixed(1), frozenEncoderCpuMs: (cpu[1]! / n[1]!).toFixed(1), ratio: ((cpu[0]! / n[0]!) / (cpu[1]! / n[1]!)).toFixed(2) }));

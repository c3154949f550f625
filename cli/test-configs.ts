/**
 * Test support: the tiny experiment configs the CLI tests train (16×16 networks, Pendulum-v1),
 * as YAML text. `extra` is appended (e.g. a safety section).
 */
export const tinySacConfig = (steps: number, extra = ''): string => `
name: tiny
env: { id: Pendulum-v1 }
seed: 1
backend: wasm
algo: { kind: sac, hidden: [16, 16], batchSize: 32, learningStarts: 100 }
train: { steps: ${steps}, evalEvery: 0, evalEpisodes: 2, checkpointEvery: 200, logEvery: 100 }
${extra}`;

/**
 * PandaReach-v0 seen by a `size`×`size` front camera and proprioception (the goal only in the
 * image), RLPD with a tiny conv encoder and the demos at `demos`, 40 steps, as YAML text.
 */
export const tinyPixelConfig = (o: { name: string; demos: string; size: number; checkpointEvery: number; timeLimit?: number; rewardClassifier?: string }): string => `name: ${o.name}
backend: cpu
env:
  id: PandaReach-v0
${o.timeLimit === undefined ? '' : `  timeLimit: ${o.timeLimit}\n`}  options:
    state: proprio
    cameras:
      - name: front
        width: ${o.size}
        height: ${o.size}
        pose: { kind: fixed, position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] }
${o.rewardClassifier ? `  rewardClassifier: ${o.rewardClassifier}\n` : ''}algo:
  kind: sac
  preset: rlpd
  hidden: [16, 16]
  critics: 2
  batchSize: 8
  learningStarts: 10
  encoder: { kind: conv, filters: 4, strides: [2, 1], features: 6, pad: 2 }
  demos: { path: ${o.demos}, ratio: 0.5 }
train:
  steps: 40
  evalEvery: 0
  evalEpisodes: 1
  checkpointEvery: ${o.checkpointEvery}
  logEvery: 10
`;

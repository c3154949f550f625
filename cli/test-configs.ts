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

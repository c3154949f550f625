import { describe, expect, it } from 'vitest';
import { checkEnv, EnvCheckError } from './check-env.js';
import { validateAction, type Env, type EnvSpec, type ResetOptions, type ResetResult, type StepResult } from './env.js';
import { box } from './spaces.js';

/** A tiny 1-D env whose faults can be switched on, to show each check can fail. */
class ToyEnv implements Env {
  readonly spec: EnvSpec;
  private x = 0;
  private t = 0;
  private calls = 0;

  constructor(
    private readonly fault: 'none' | 'ignores-seed' | 'accepts-nan' | 'obs-out-of-space' | 'wrong-costs' | 'mutates-on-bad-action',
    names: Pick<EnvSpec, 'observationNames' | 'actionNames'> = {},
  ) {
    this.spec = { id: `Toy-${fault}`, observationSpace: box([-10], [10]), actionSpace: box([-1], [1]), controlHz: 10, maxEpisodeSteps: 20, constraints: ['c'], kind: 'sim', ...names };
  }

  async reset(options?: ResetOptions): Promise<ResetResult> {
    this.calls++;
    const seed = this.fault === 'ignores-seed' ? this.calls : (options?.seed ?? 0);
    this.x = ((seed * 7919) % 10) / 10;
    this.t = 0;
    return { obs: Float32Array.of(this.x), info: {} };
  }

  async step(action: Float32Array): Promise<StepResult> {
    if (this.fault === 'mutates-on-bad-action') this.x += 0.5;
    if (this.fault !== 'accepts-nan') validateAction(this.spec, action);
    this.x += 0.1 * (action[0] as number);
    this.t++;
    const obs = Float32Array.of(this.fault === 'obs-out-of-space' ? 100 : this.x);
    const costs = this.fault === 'wrong-costs' ? new Float32Array(0) : Float32Array.of(0);
    return { obs, reward: -Math.abs(this.x), costs, terminated: false, truncated: this.t >= 20, info: {} };
  }

  async close(): Promise<void> {}
}

describe('checkEnv', () => {
  it('passes a correct env', async () => {
    await expect(checkEnv(new ToyEnv('none'))).resolves.toMatchObject({ steps: expect.any(Number) });
  });

  it.each([
    ['ignores-seed', /not deterministic/],
    ['accepts-nan', /bad action .* was accepted/],
    ['obs-out-of-space', /outside the observation space/],
    ['wrong-costs', /expected 1 costs, got 0/],
    ['mutates-on-bad-action', /bad actions changed the env/],
  ] as const)('catches an env that %s', async (fault, message) => {
    const err = await checkEnv(new ToyEnv(fault)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvCheckError);
    expect((err as EnvCheckError).message).toMatch(message);
    expect((err as EnvCheckError).envId).toBe(`Toy-${fault}`);
  });

  it('checks the names of the observation and action fields when the spec gives them: one per entry, non-empty, distinct', async () => {
    await expect(checkEnv(new ToyEnv('none', { observationNames: ['x'], actionNames: ['push'] }))).resolves.toMatchObject({ steps: expect.any(Number) });
    const failures = async (names: Pick<EnvSpec, 'observationNames' | 'actionNames'>): Promise<string> => ((await checkEnv(new ToyEnv('none', names)).catch((e: unknown) => e)) as EnvCheckError).message;
    expect(await failures({ observationNames: ['x', 'v'] })).toMatch(/observationNames has 2 names for 1 observation entries/);
    expect(await failures({ actionNames: [] })).toMatch(/actionNames has 0 names for 1 action entries/);
    expect(await failures({ observationNames: [''] })).toMatch(/observationNames\[0\] must be a non-empty string/);
    expect(await failures({ observationNames: ['x'], actionNames: ['x', 'x'] })).toMatch(/actionNames has 2 names/);
    const dup = new ToyEnv('none');
    Object.assign(dup, { spec: { ...dup.spec, observationSpace: box([-10, -10], [10, 10]), observationNames: ['x', 'x'] } });
    expect(((await checkEnv(dup).catch((e: unknown) => e)) as EnvCheckError).message).toMatch(/observationNames must be distinct: x appears twice/);
  });
});

import { describe, expect, it } from 'vitest';
import { validateConfig } from '../experiment/config.js';
import { makeLearnerEnv } from '../experiment/setup.js';

const base = { name: 't', algo: { kind: 'sac' }, train: { steps: 10 } };

async function safetyOf(envId: string, safety?: unknown): Promise<{ hits: Record<string, number> | undefined; constraints: readonly string[]; logs: string[] }> {
  const logs: string[] = [];
  const env = await makeLearnerEnv(validateConfig({ ...base, env: { id: envId }, ...(safety === undefined ? {} : { safety }) }, 'test'), (l) => logs.push(l));
  await env.reset({ seed: 0 });
  const r = await env.step(new Float32Array(env.spec.actionSpace.kind === 'box' ? env.spec.actionSpace.low.length : 1).fill(1));
  await env.close();
  return { hits: r.info.safety?.hits as Record<string, number> | undefined, constraints: env.spec.constraints, logs };
}

describe('experiment config: the safety section', () => {
  it('Tier 0 limits are on by default for joint-position tasks, and turning them off is logged', async () => {
    const on = await safetyOf('PandaReach-v0');
    expect(on.hits).toHaveProperty('position');
    const off = await safetyOf('PandaReach-v0', { limits: false });
    expect(off.hits).toBeUndefined();
    expect(off.logs.join('\n')).toMatch(/WARNING: Tier 0 safety limits are OFF for PandaReach-v0/);
  });

  it('shield: true wraps the task shield; a task without one is refused by name', async () => {
    const shielded = await safetyOf('PandaKeepOut-v0', { shield: true });
    expect(shielded.hits).toHaveProperty('shield');
    await expect(safetyOf('PandaReach-v0', { shield: true })).rejects.toThrow(/PandaReach-v0 has no shield model \(tasks with one: PandaKeepOut-v0\)/);
  });

  it('declared cost expressions become named constraints; bad expressions fail at startup', async () => {
    const r = await safetyOf('PandaReach-v0', { constraints: [{ name: 'low_tcp', cost: 'tcp[3] < 0.2' }] });
    expect(r.constraints).toEqual(['joint_velocity', 'table_contact', 'low_tcp']);
    await expect(safetyOf('PandaReach-v0', { constraints: [{ name: 'x', cost: 'require("fs")' }] })).rejects.toThrow(/unknown function "require"/);
    await expect(safetyOf('Pendulum-v1', { constraints: [{ name: 'x', cost: 'tcp[1]' }] })).rejects.toThrow(/unknown variable "tcp"/);
    expect(() => validateConfig({ ...base, env: { id: 'Pendulum-v1' }, safety: { shield: 'yes' } }, 'cfg')).toThrow(/safety.shield/);
  });
});

import { InvalidActionError, type Env, type StepResult } from './env.js';
import { Rng } from './rng.js';
import { dict, isBounded, observationProblem, sample, stateOf, stateSpace, type Observation } from './spaces.js';

export interface CheckEnvOptions {
  /** Seed for the episodes the checker runs. Default 7. */
  readonly seed?: number;
  /** Steps per rollout in the determinism check. Default 30. */
  readonly steps?: number;
  /** Upper bound on steps while looking for an episode end. Default 2000. */
  readonly maxEpisodeSteps?: number;
}

/** Thrown by {@link checkEnv} with every failed check listed. */
export class EnvCheckError extends Error {
  override readonly name = 'EnvCheckError';
  constructor(
    readonly envId: string,
    readonly failures: readonly string[],
  ) {
    super(`${envId} failed ${failures.length} check(s):\n- ${failures.join('\n- ')}`);
  }
}

/**
 * Checks that an env honours the roborl contract (as SB3's env checker does for Gym):
 * spec sanity (field names, when given, one per entry); observations inside the observation box; finite rewards and one non-negative
 * cost per named constraint; same seed and actions → bit-identical rollouts; bad actions
 * (wrong length, NaN, ±Infinity) rejected with an {@link InvalidActionError} naming the env
 * (and the index) while the env stays unchanged; reset after an episode ends. Dict observations
 * (camera frames, issue 23): every entry present with its shape and type — state a Float32Array
 * inside its box, each frame a Uint8Array (so every value is in 0..255) of exactly H·W·C bytes —
 * and determinism compares frames byte by byte.
 *
 * Runs real episodes on `env` (do not use it on a robot without limits). Throws
 * {@link EnvCheckError} listing all failures; resolves with the number of steps taken.
 */
export async function checkEnv(env: Env<Observation>, options: CheckEnvOptions = {}): Promise<{ steps: number }> {
  const seed = options.seed ?? 7;
  const n = options.steps ?? 30;
  const failures: string[] = [];
  const fail = (msg: string): void => void failures.push(msg);
  const spec = env.spec;
  let steps = 0;

  // 1. Spec.
  if (!spec.id) fail('spec.id is empty');
  if (!(spec.controlHz > 0)) fail(`spec.controlHz must be positive, got ${spec.controlHz}`);
  if (spec.actionSpace.kind === 'box' && !isBounded(spec.actionSpace)) fail('the action box must have finite bounds');
  if (new Set(spec.constraints).size !== spec.constraints.length) fail(`constraint names must be unique: ${spec.constraints.join(', ')}`);
  if (spec.maxEpisodeSteps !== null && !(Number.isInteger(spec.maxEpisodeSteps) && spec.maxEpisodeSteps > 0)) fail(`spec.maxEpisodeSteps must be a positive integer or null`);
  checkNames(spec.observationNames, 'observationNames', stateSpace(spec.observationSpace).low.length, 'observation', fail);
  if (spec.observationSpace.kind === 'dict') {
    try {
      dict(spec.observationSpace.state, spec.observationSpace.cameras);
    } catch (err) {
      fail(`spec.observationSpace: ${(err as Error).message}`);
    }
  }
  checkNames(spec.actionNames, 'actionNames', spec.actionSpace.kind === 'box' ? spec.actionSpace.low.length : 1, 'action', fail);

  const checkObs = (obs: Observation, where: string): boolean => {
    const problem = observationProblem(spec.observationSpace, obs, 1e-5);
    if (problem) {
      const state = obs instanceof Float32Array ? obs : obs?.state;
      fail(`${where}: ${problem}: [${Array.from(state instanceof Float32Array ? state : []).slice(0, 8).join(', ')}…]`);
      return false;
    }
    for (const v of stateOf(obs)) if (!Number.isFinite(v)) return (fail(`${where}: observation is not finite`), false);
    return true;
  };
  const checkResult = (r: StepResult<Observation>, where: string): void => {
    if (!checkObs(r.obs, where)) return;
    if (!Number.isFinite(r.reward)) fail(`${where}: reward ${r.reward} is not finite`);
    if (!(r.costs instanceof Float32Array) || r.costs.length !== spec.constraints.length) fail(`${where}: expected ${spec.constraints.length} costs, got ${r.costs?.length}`);
    else if (r.costs.some((c) => !(c >= 0) || !Number.isFinite(c))) fail(`${where}: costs must be finite and ≥ 0, got [${Array.from(r.costs).join(', ')}]`);
    if (typeof r.terminated !== 'boolean' || typeof r.truncated !== 'boolean') fail(`${where}: terminated/truncated must be booleans`);
  };

  // 2. Determinism: two rollouts from the same seed with the same actions.
  const rng = new Rng(seed);
  const actions = Array.from({ length: n }, () => sample(spec.actionSpace, rng));
  const rollout = async (): Promise<{ obs: Observation[]; rewards: number[] }> => {
    const first = await env.reset({ seed });
    checkObs(first.obs, 'reset');
    const obs = [first.obs];
    const rewards: number[] = [];
    for (let t = 0; t < n; t++) {
      const r = await env.step(actions[t] as Float32Array);
      steps++;
      checkResult(r, `step ${t}`);
      obs.push(r.obs);
      rewards.push(r.reward);
      if (r.terminated || r.truncated) break;
    }
    return { obs, rewards };
  };
  const a = await rollout();
  const b = await rollout();
  if (a.obs.length !== b.obs.length || a.obs.some((o, i) => !observationEqual(o, b.obs[i] as Observation)) || a.rewards.some((r, i) => !Object.is(r, b.rewards[i]))) {
    fail('same seed and same actions gave different observations or rewards (not deterministic)');
  }

  // 3. Bad actions are rejected and leave the env unchanged.
  const good = actions[0] as Float32Array;
  await env.reset({ seed });
  const reference = await env.step(good);
  steps++;
  const bad: [string, Float32Array, number | null][] = [];
  if (spec.actionSpace.kind === 'box') {
    const len = good.length;
    bad.push(['too long', new Float32Array(len + 1), null], ['empty', new Float32Array(0), null]);
    for (const v of [Number.NaN, Infinity, -Infinity]) {
      const x = Float32Array.from(good);
      x[len - 1] = v;
      bad.push([`${v} at the last index`, x, len - 1]);
    }
  } else {
    bad.push(['out of range', Float32Array.of(spec.actionSpace.n), 0], ['fractional', Float32Array.of(0.5), 0], ['NaN', Float32Array.of(Number.NaN), 0]);
  }
  await env.reset({ seed });
  for (const [label, action, index] of bad) {
    try {
      await env.step(action);
      fail(`a bad action (${label}) was accepted`);
    } catch (err) {
      if (!(err instanceof InvalidActionError)) fail(`a bad action (${label}) threw ${(err as Error).name}, expected InvalidActionError`);
      else {
        if (!err.message.includes(spec.id)) fail(`the error for a bad action (${label}) does not name the env: "${err.message}"`);
        if (index !== null && err.index !== index) fail(`the error for a bad action (${label}) names index ${err.index}, expected ${index}`);
      }
    }
  }
  const after = await env.step(good);
  steps++;
  if (!observationEqual(after.obs, reference.obs) || !Object.is(after.reward, reference.reward)) fail('bad actions changed the env (the next good step differs from a clean run)');

  // 4. Run to the end of an episode, then reset and step again.
  await env.reset({ seed: seed + 1 });
  const limit = options.maxEpisodeSteps ?? 2000;
  let ended = false;
  for (let t = 0; t < limit && !ended; t++) {
    const r = await env.step(sample(spec.actionSpace, rng));
    steps++;
    ended = r.terminated || r.truncated;
  }
  if (!ended && spec.maxEpisodeSteps !== null) fail(`no episode end within ${limit} steps although maxEpisodeSteps is ${spec.maxEpisodeSteps}`);
  try {
    await env.reset();
    checkResult(await env.step(good), 'step after reset following an episode end');
    steps++;
  } catch (err) {
    fail(`reset/step after an episode end threw: ${(err as Error).message}`);
  }

  if (failures.length) throw new EnvCheckError(spec.id, failures);
  return { steps };
}

/** Field names, when a spec gives them: one non-empty, distinct name per entry. */
function checkNames(names: readonly string[] | undefined, key: string, entries: number, what: string, fail: (msg: string) => void): void {
  if (names === undefined) return;
  if (!Array.isArray(names) || names.length !== entries) return fail(`spec.${key} has ${Array.isArray(names) ? names.length : typeof names} names for ${entries} ${what} entries`);
  const bad = names.findIndex((n) => typeof n !== 'string' || n.length === 0);
  if (bad >= 0) return fail(`spec.${key}[${bad}] must be a non-empty string, got ${JSON.stringify(names[bad])}`);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) return fail(`spec.${key} must be distinct: ${n} appears twice`);
    seen.add(n);
  }
}

/** Bit-equal state vectors and byte-equal frames under the same names. */
function observationEqual(a: Observation, b: Observation): boolean {
  if (a instanceof Float32Array || b instanceof Float32Array) return a instanceof Float32Array && b instanceof Float32Array && bitEqual(a, b);
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k];
    const y = b[k];
    if (x instanceof Float32Array || y instanceof Float32Array) return x instanceof Float32Array && y instanceof Float32Array && bitEqual(x, y);
    return x instanceof Uint8Array && y instanceof Uint8Array && x.length === y.length && x.every((v, i) => v === y[i]);
  });
}

function bitEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

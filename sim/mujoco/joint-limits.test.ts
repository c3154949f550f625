import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../control/rng.js';
import { SafetyLimits } from '../../control/safety/safety-limits.js';
import { unwrap } from '../../control/wrappers/wrapper.js';
import { servoGains } from '../articulation.js';
import { loadDescription } from '../descriptions.js';
import { movableJoints } from '../urdf/kinematics.js';
import { make } from '../../tasks/registry.js';
import { PANDA_READY, PANDA_TABLE_WORKSPACE, PANDA_TIMING } from '../../tasks/panda.js';
import type { PandaReach } from '../../tasks/panda-reach.js';
import { loadMujoco } from './module.js';
import { MujocoPhysics } from './physics.js';

beforeAll(async () => {
  await loadMujoco();
});

/** As the Tier 0 fuzz (bench/safety.ts): a joint this far past a bound is a violation, rad. */
const TOLERANCE = 0.005;

/** How far each joint of `q` is past its bound (0 inside), the worst of them. */
function worstOvershoot(q: ArrayLike<number>, lower: ArrayLike<number>, upper: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < q.length; i++) worst = Math.max(worst, (lower[i] as number) - (q[i] as number), (q[i] as number) - (upper[i] as number));
  return worst;
}

describe('MuJoCo joint limits hold as hard stops (Tier 0 on MuJoCo)', () => {
  it('each Panda joint driven into each bound by its servo at full effort stays within the URDF range, and stops near the bound', () => {
    const robot = loadDescription('panda');
    const joints = movableJoints(robot);
    const { stiffness } = servoGains(joints, { mode: 'position', gravityCompensation: true });
    const physics = new MujocoPhysics({ robot, actuation: { mode: 'position', gravityCompensation: true }, timing: PANDA_TIMING });
    const q = new Float64Array(joints.length);
    const qd = new Float64Array(joints.length);
    const report: string[] = [];
    let worst = 0;
    let farthestShort = 0;
    let chatter = 0;
    joints.forEach((j, k) => {
      const lower = j.limit?.lower as number;
      const upper = j.limit?.upper as number;
      // The servo's target past the bound by effort / kp: at the bound it presses with its full effort.
      const press = (j.limit?.effort as number) / (stiffness[k] as number);
      for (const [bound, side] of [[lower, -1], [upper, 1]] as const) {
        physics.restore();
        const start = PANDA_READY.map((v) => v);
        start[k] = bound - side * 0.3; // 0.3 rad inside: the joint reaches its stop moving
        physics.setJointState(start);
        const target = Float64Array.from(start);
        target[k] = bound + side * press;
        physics.command(target);
        let jointWorst = 0;
        let lateSpeed = 0;
        for (let s = 0; s < 250; s++) {
          physics.step(1); // every 4 ms physics step, not only the control periods
          physics.readJointState(q, qd);
          jointWorst = Math.max(jointWorst, side * ((q[k] as number) - bound));
          if (s >= 200) lateSpeed = Math.max(lateSpeed, Math.abs(qd[k] as number));
        }
        chatter = Math.max(chatter, lateSpeed);
        worst = Math.max(worst, jointWorst);
        farthestShort = Math.max(farthestShort, -side * ((q[k] as number) - bound));
        report.push(`${j.name} ${side < 0 ? 'lower' : 'upper'}: worst ${jointWorst.toFixed(4)} past, rests ${(side * ((q[k] as number) - bound)).toFixed(4)}, late |q̇| ${lateSpeed.toFixed(3)}`);
      }
    });
    physics.close();
    expect(worst, report.join('\n')).toBeLessThanOrEqual(TOLERANCE);
    // The limit's margin costs little range: a joint pressed into its stop rests within 35 mrad of it.
    expect(farthestShort, report.join('\n')).toBeLessThan(0.035);
    // And it rests: a stiffer limit impedance (solimplimit 0.95–0.999) set joint 7 chattering at ±0.4 rad/s.
    expect(chatter).toBeLessThan(0.01);
  });

  it('the Tier 0 fuzz stream of bench/safety.ts keeps every joint within its limits on MuJoCo (its first 4,000 steps crossed them by up to 0.029 rad, the arm pressed against the table)', async () => {
    const inner = await make('PandaReach-v0', { timeLimit: 1000, options: { engine: 'mujoco' } });
    const panda = unwrap(inner) as PandaReach;
    const env = new SafetyLimits(inner, panda, { workspace: PANDA_TABLE_WORKSPACE });
    const { lower, upper } = panda.jointLimits;
    // The bench's stream, step for step: uniform random, bang-bang held 25–250 steps, random extremes.
    const rng = new Rng(11);
    await env.reset({ seed: 0 });
    let worst = 0;
    let worstAt = -1;
    let mode = 0;
    let hold = 0;
    let held = new Float32Array(7);
    for (let t = 0; t < 4000; t++) {
      if (hold-- <= 0) {
        mode = rng.int(3);
        hold = 25 + rng.int(225);
        held = Float32Array.from({ length: 7 }, () => (rng.random() < 0.5 ? -1 : 1));
      }
      const action = mode === 0 ? Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1)) : mode === 1 ? held : Float32Array.from({ length: 7 }, () => (rng.random() < 0.5 ? -1 : 1));
      const r = await env.step(action);
      const over = worstOvershoot(panda.jointPositions(), lower, upper);
      if (over > worst) [worst, worstAt] = [over, t];
      if (r.terminated || r.truncated) await env.reset();
    }
    await env.close();
    expect(worst, `worst overshoot ${worst.toFixed(4)} rad at step ${worstAt}`).toBeLessThanOrEqual(TOLERANCE);
  }, 180_000);
});

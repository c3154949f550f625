import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import type { JointLimits } from '../control/safety/joint-filter.js';
import type { JointPositionControl } from '../control/safety/safety-limits.js';
import { box } from '../control/spaces.js';
import { loadDescription } from '../sim/descriptions.js';
import { sub, type Pose, type Vec3 } from '../sim/math3d.js';
import { clamp, PANDA_CONTROL_LINKS, PANDA_TABLE, PANDA_TABLE_OBJECT, PANDA_MAX_DELTA, PANDA_READY, PANDA_TCP, pandaTcpJacobian, pandaTcpPose } from '../tasks/panda.js';
import { pandaReachObservation, reachGoalMarker } from '../tasks/panda-reach.js';
import { urdfScene } from '../sim/urdf/scene.js';
import type { SceneShape, SceneState } from '../control/scene.js';
import { forwardKinematics } from '../sim/urdf/kinematics.js';

/** One step of a task computed from measured joint state. */
export interface TaskOutcome {
  readonly obs: Float32Array;
  readonly reward: number;
  readonly costs: Float32Array;
  readonly terminated: boolean;
  readonly success: boolean;
  readonly metrics: Record<string, number>;
}

/**
 * A task as a real robot runs it: everything is computed on our side from the measured joint
 * positions and velocities (forward kinematics from the robot's URDF), with the same spec,
 * observation layout, reward and success rule as the simulated task of the same id — so sim
 * and robot report comparable numbers and a policy runs on either unchanged.
 */
export interface RobotTask extends JointPositionControl {
  readonly spec: EnvSpec;
  /** Joint names in action / observation order (matched by name in robot messages). */
  readonly jointNames: readonly string[];
  /** Joint positions a robot without a reset service is moved to at reset (draws from `rng`). */
  startPositions(rng: Rng): Float64Array;
  /**
   * Starts an episode from the measured state (samples the goal from `rng`); returns the
   * observation. Call after {@link startPositions} drew the start, as the sim task does.
   */
  beginEpisode(rng: Rng, q: ArrayLike<number>, qd: ArrayLike<number>): Float32Array;
  /** Reward, costs, success and the observation after a step, from the measured state. */
  outcome(action: Float32Array, q: ArrayLike<number>, qd: ArrayLike<number>): TaskOutcome;
  /**
   * For robots commanded in Cartesian velocity (geometry_msgs/Twist, e.g. MoveIt Servo): the
   * end-effector twist [vx, vy, vz, ωx, ωy, ωz] (m/s, rad/s) that moves the joints from `q` to
   * `targets` in one control period, through the TCP Jacobian.
   */
  twistFor?(targets: ArrayLike<number>, q: ArrayLike<number>): number[];
  /** The scene at measured joint positions `q` (the arm by forward kinematics, fixtures, the goal), for the dashboard. */
  scene?(q: ArrayLike<number>): SceneState;
}

/**
 * `PandaReach-v0` on a robot. Same 23-d observation, reward −‖TCP − goal‖ and 5 cm success as
 * the simulator; TCP from forward kinematics. A reset draws the same random numbers in the same
 * order as the sim task (7 joint offsets in startPositions, then the goal in beginEpisode), so a
 * given seed gives the same goal.
 * Costs: `joint_velocity` (any |q̇ᵢ| above its URDF limit); `table_contact` is geometric here —
 * any link frame of links 3–7, hand or TCP below 2 cm (a robot reports no contacts).
 */
export function pandaReachTask(): RobotTask {
  const robot = loadDescription('panda');
  const joints = robot.joints.filter((j) => j.type === 'revolute');
  const lower = Float64Array.from(joints, (j) => j.limit?.lower ?? -Math.PI);
  const upper = Float64Array.from(joints, (j) => j.limit?.upper ?? Math.PI);
  const velocity = Float64Array.from(joints, (j) => j.limit?.velocity ?? Infinity);
  const limits: JointLimits = { lower, upper, velocity };
  const CONTROL_HZ = 25;
  let goal: Vec3 = [0.45, 0, 0.3];
  let q = new Float64Array(7);
  const observe = (qs: ArrayLike<number>, qd: ArrayLike<number>, tcp: Vec3): Float32Array => pandaReachObservation(qs, qd, tcp, goal);
  return {
    spec: {
      id: 'PandaReach-v0',
      observationSpace: box(-Infinity, Infinity, [23]),
      actionSpace: box(-1, 1, [7]),
      controlHz: CONTROL_HZ,
      maxEpisodeSteps: 50,
      constraints: ['joint_velocity', 'table_contact'],
      kind: 'real',
    },
    jointNames: joints.map((j) => j.name),
    jointLimits: limits,
    jointPositions: () => q,
    actionToTargets: (action, qs) => Float64Array.from({ length: 7 }, (_, i) => clamp((qs[i] as number) + PANDA_MAX_DELTA * (action[i] as number), lower[i] as number, upper[i] as number)),
    targetsToAction: (targets, qs) => Float32Array.from({ length: 7 }, (_, i) => clamp(((targets[i] as number) - (qs[i] as number)) / PANDA_MAX_DELTA, -1, 1)),
    holdAction: () => new Float32Array(7),
    controlPoints: (qs) => {
      const poses = forwardKinematics(robot, qs);
      return Float64Array.from(PANDA_CONTROL_LINKS.flatMap((l) => (poses.get(l) as Pose).p));
    },
    startPositions(rng) {
      return Float64Array.from(PANDA_READY, (v, i) => clamp(v + rng.uniform(-0.1, 0.1), lower[i] as number, upper[i] as number));
    },
    beginEpisode(rng, qs, qd) {
      goal = [rng.uniform(0.3, 0.6), rng.uniform(-0.3, 0.3), rng.uniform(0.1, 0.5)];
      q = Float64Array.from(qs);
      return observe(qs, qd, pandaTcpPose(robot, qs).p);
    },
    twistFor(targets, qs) {
      const J = pandaTcpJacobian(robot, qs);
      return J.map((row) => row.reduce((acc, v, k) => acc + v * ((targets[k] as number) - (qs[k] as number)) * CONTROL_HZ, 0));
    },
    scene(qs) {
      // The arm's URDF collision shapes placed by forward kinematics, the table and the goal, as
      // the simulated task draws them (same names), so recordings from sim and robot compare.
      const arm = urdfScene(robot, qs);
      const goalMarker = reachGoalMarker(goal);
      const table: SceneShape = { name: PANDA_TABLE_OBJECT.name, kind: 'box', size: [...PANDA_TABLE.half], role: 'fixture' };
      return { shapes: [...arm.shapes, table, goalMarker.shape], poses: [...arm.poses, ...PANDA_TABLE.center, 0, 0, 0, 1, ...goalMarker.pose.p, ...goalMarker.pose.q] };
    },
    outcome(_action, qs, qd) {
      q = Float64Array.from(qs);
      const poses = forwardKinematics(robot, qs);
      const tcp = (poses.get(PANDA_TCP) as Pose).p;
      const dist = Math.hypot(...sub(tcp, goal));
      let fast = 0;
      for (let i = 0; i < 7; i++) if (Math.abs(qd[i] as number) > (velocity[i] as number)) fast = 1;
      const low = PANDA_CONTROL_LINKS.some((l) => ((poses.get(l) as Pose).p[2] as number) < 0.02) ? 1 : 0;
      const success = dist < 0.05;
      return { obs: observe(qs, qd, tcp), reward: -dist, costs: Float32Array.of(fast, low), terminated: success, success, metrics: { distance: dist } };
    },
  };
}

const TASKS: Record<string, () => RobotTask> = { 'PandaReach-v0': pandaReachTask };

/** The robot-side definition of a task id. */
export function robotTask(id: string): RobotTask {
  const make = TASKS[id];
  if (!make) throw new Error(`no robot task definition for "${id}" (available: ${Object.keys(TASKS).join(', ')})`);
  return make();
}

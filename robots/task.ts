import type { EnvSpec } from '../control/env.js';
import type { Rng } from '../control/rng.js';
import type { JointPositionControl } from '../control/safety/safety-limits.js';
import type { SceneState } from '../control/scene.js';
import { PhysicsError, type PhysicsModel } from '../sim/physics.js';
import { PANDA_FINGER_OPEN, PandaTask, pandaTcpJacobian } from '../tasks/panda.js';
import { gripperJoints } from '../sim/urdf/kinematics.js';
import { PANDA_FINGER_TRAVEL } from '../tasks/panda-action.js';
import { envEntry, listEnvs } from '../tasks/registry.js';
import { MeasuredPhysics } from './measured-physics.js';

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
 * A task as a real robot runs it: the simulator's task itself (tasks/), over a
 * {@link MeasuredPhysics} — the measured joint positions and velocities, forward kinematics from
 * the robot's URDF, geometric contact with fixtures — so observation, reward, success, costs and
 * the reset draw are the simulated task's by construction, and a policy runs on either unchanged.
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
  /**
   * The task's gripper, when its action has one (`action.gripper`): the finger joints' names (as
   * joint states name them), each finger's position target (m) an action commands, and the
   * opening an episode starts with (the simulated task's: open).
   */
  readonly gripper?: RobotGripper;
  /** The scene at measured joint positions `q` (the arm by forward kinematics, fixtures, the goal), for the dashboard. */
  scene?(q: ArrayLike<number>): SceneState;
}

/** A robot task's gripper (see {@link RobotTask.gripper}). */
export interface RobotGripper {
  readonly joints: readonly string[];
  /** Each finger's position target, m, that `action` (the env's, clipped) commands. */
  opening(action: Float32Array): number;
  /** Each finger's position at an episode's start, m. */
  readonly start: number;
  /** Each finger's full travel, m (0 closed). */
  readonly travel: number;
}

/**
 * The robot side of task `id`: the registered simulated task built over a {@link MeasuredPhysics}
 * (`options` are the task's env options, e.g. `successHold`). Tasks that command joint positions
 * and observe only what joint states reveal run on a robot; a task that reads a free object's
 * pose (PandaPush-v0's cube) is refused, naming the object. A reset draws the same random numbers
 * in the same order as the simulated task's (start pose, then goal), so a seed gives the same
 * goal on both.
 */
export function robotTask(id: string, options: Record<string, unknown> = {}): RobotTask {
  const entry = envEntry(id);
  if (!entry.engines.length) throw new Error(`${id} has no physics to measure: it runs in simulation only (robot tasks: ${robotTaskIds().join(', ')})`);
  let physics: MeasuredPhysics | undefined;
  let task;
  try {
    task = entry.create({ ...options, engine: (model: PhysicsModel) => (physics = new MeasuredPhysics(model)) });
  } catch (err) {
    if (err instanceof PhysicsError) throw new Error(`${id} cannot run on a robot: ${err.message} (robot tasks: ${robotTaskIds().join(', ')})`);
    throw err;
  }
  if (!(task instanceof PandaTask) || !physics) {
    void task.close();
    throw new Error(`${id} cannot run on a robot: its actions do not command joint positions (robot tasks: ${robotTaskIds().join(', ')})`);
  }
  const sim: PandaTask = task;
  const measured: MeasuredPhysics = physics;
  const gripper: RobotGripper | undefined =
    sim.actions.gripperIndex >= 0 ? { joints: gripperJoints(sim.description).map((j) => j.name), opening: (a) => sim.actions.fingerOpening(a), start: PANDA_FINGER_OPEN, travel: PANDA_FINGER_TRAVEL } : undefined;
  return {
    spec: { ...sim.spec, kind: 'real' },
    jointNames: sim.jointNames,
    jointLimits: sim.jointLimits,
    jointPositions: () => sim.jointPositions(),
    actionToTargets: (action, q) => sim.targetsFor(action, q),
    // The action passes through: Tier 0 gives its gripper entry back untouched (it commands no arm joint).
    targetsToAction: (targets, q, action) => sim.targetsToAction(targets, q, action),
    holdAction: () => sim.holdAction(),
    controlPoints: (q) => sim.controlPoints(q),
    ...(gripper ? { gripper } : {}),
    startPositions(rng) {
      sim.measuredReset(rng);
      return measured.startPose();
    },
    beginEpisode(_rng, q, qd) {
      measured.measure(q, qd);
      return sim.measuredObservation();
    },
    outcome(action, q, qd) {
      measured.measure(q, qd);
      const t = sim.measuredStep(action);
      return { obs: t.obs, reward: t.reward, costs: t.costs, terminated: t.terminated, success: t.success === true, metrics: t.metrics ?? {} };
    },
    twistFor(targets, q) {
      const J = pandaTcpJacobian(sim.description, q);
      return J.map((row) => row.reduce((acc, v, k) => acc + v * ((targets[k] as number) - (q[k] as number)) * sim.spec.controlHz, 0));
    },
    scene(q): SceneState {
      measured.measure(q, sim.jointVelocities());
      return sim.scene();
    },
  };
}

/** The registered tasks a robot can run (built over a measured physics without refusal). */
export function robotTaskIds(): string[] {
  return listEnvs().filter((id) => {
    const entry = envEntry(id);
    if (!entry.engines.length) return false;
    try {
      const task = entry.create({ engine: (model: PhysicsModel) => new MeasuredPhysics(model) });
      void task.close();
      return task instanceof PandaTask;
    } catch {
      return false;
    }
  });
}

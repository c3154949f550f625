import type { CameraConfigInput } from './config.js';

/**
 * Cameras for the Panda tasks (PandaReach-v0, PandaPush-v0, ...), as SERL mounts them: one in
 * front of the table looking back at the arm, one on the hand looking down past the fingers.
 * Inputs to {@link parseCamera}/{@link CameraRig.fromConfig}; copy them into a config to change.
 */
export const PANDA_FRONT_CAMERA: CameraConfigInput = {
  name: 'front',
  fovDeg: 45,
  pose: { kind: 'fixed', position: [1.35, -0.6, 0.85], lookAt: [0.3, 0, 0.3] },
};

/**
 * On `panda_hand`. Its scene shape is the hand's box (its frame: z along the fingers, y across
 * them); the camera sits beside the box and looks down the fingers.
 */
export const PANDA_WRIST_CAMERA: CameraConfigInput = {
  name: 'wrist',
  fovDeg: 70,
  pose: { kind: 'attached', link: 'panda_hand', position: [0.06, 0, 0.0], lookAt: [0, 0, 0.18], up: [1, 0, 0] },
};

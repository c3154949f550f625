/**
 * Minimal rigid-body math on plain tuples: vectors, unit quaternions [x, y, z, w] and poses.
 * Pure functions, allocation-light, float64 throughout.
 */
export type Vec3 = [number, number, number];
export type Quat = [number, number, number, number];

/** A rigid transform: rotate by `q`, then translate by `p`. */
export interface Pose {
  readonly p: Vec3;
  readonly q: Quat;
}

export const IDENTITY_QUAT: Quat = [0, 0, 0, 1];
export const IDENTITY_POSE: Pose = { p: [0, 0, 0], q: IDENTITY_QUAT };

export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}
export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}
export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  if (n === 0) throw new RangeError('Cannot normalise a zero vector');
  return scale(a, 1 / n);
}

export function quatMul(a: Quat, b: Quat): Quat {
  const [ax, ay, az, aw] = a;
  const [bx, by, bz, bw] = b;
  return [
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
    aw * bw - ax * bx - ay * by - az * bz,
  ];
}
export function quatConj(q: Quat): Quat {
  return [-q[0], -q[1], -q[2], q[3]];
}
export function quatNormalize(q: Quat): Quat {
  const n = Math.hypot(q[0], q[1], q[2], q[3]);
  return [q[0] / n, q[1] / n, q[2] / n, q[3] / n];
}
/** Rotates vector v by unit quaternion q. */
export function rotate(q: Quat, v: Vec3): Vec3 {
  const u: Vec3 = [q[0], q[1], q[2]];
  const t = scale(cross(u, v), 2);
  return add(add(v, scale(t, q[3])), cross(u, t));
}
export function quatFromAxisAngle(axis: Vec3, angle: number): Quat {
  const s = Math.sin(angle / 2);
  return [axis[0] * s, axis[1] * s, axis[2] * s, Math.cos(angle / 2)];
}
/** URDF roll-pitch-yaw: R = Rz(yaw)·Ry(pitch)·Rx(roll). */
export function quatFromRpy(roll: number, pitch: number, yaw: number): Quat {
  const qx = quatFromAxisAngle([1, 0, 0], roll);
  const qy = quatFromAxisAngle([0, 1, 0], pitch);
  const qz = quatFromAxisAngle([0, 0, 1], yaw);
  return quatMul(qz, quatMul(qy, qx));
}
/** a ∘ b: apply b, then a. */
export function compose(a: Pose, b: Pose): Pose {
  return { p: add(a.p, rotate(a.q, b.p)), q: quatNormalize(quatMul(a.q, b.q)) };
}
export function transformPoint(a: Pose, v: Vec3): Vec3 {
  return add(a.p, rotate(a.q, v));
}

/** 3×3 matrix, row-major. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export function quatToMat3(q: Quat): Mat3 {
  const [x, y, z, w] = q;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

/** Rotation matrix (proper, orthonormal) → unit quaternion (Shepperd's method). */
export function mat3ToQuat(m: Mat3): Quat {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = m;
  const tr = m00 + m11 + m22;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    return quatNormalize([(m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s]);
  }
  if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    return quatNormalize([0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s]);
  }
  if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    return quatNormalize([(m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s]);
  }
  const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
  return quatNormalize([(m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s]);
}

/** R·S·Rᵀ for a symmetric S (rotating an inertia tensor). */
export function rotateSymmetric(r: Mat3, s: Mat3): Mat3 {
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let v = 0;
      for (let k = 0; k < 3; k++) for (let l = 0; l < 3; l++) v += r[i * 3 + k]! * s[k * 3 + l]! * r[j * 3 + l]!;
      out[i * 3 + j] = v;
    }
  }
  return out as Mat3;
}

/**
 * Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations.
 * Returns eigenvalues and the rotation (columns = eigenvectors) as a quaternion, so that
 * S = R·diag(values)·Rᵀ.
 */
export function symmetricEigen(s: Mat3): { values: Vec3; rotation: Quat } {
  const a = [...s];
  const v = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[1]! ** 2 + a[2]! ** 2 + a[5]! ** 2;
    if (off < 1e-30) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]] as const) {
      const apq = a[p * 3 + q]!;
      if (Math.abs(apq) < 1e-300) continue;
      const theta = (a[q * 3 + q]! - a[p * 3 + p]!) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const sn = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k * 3 + p]!;
        const akq = a[k * 3 + q]!;
        a[k * 3 + p] = c * akp - sn * akq;
        a[k * 3 + q] = sn * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p * 3 + k]!;
        const aqk = a[q * 3 + k]!;
        a[p * 3 + k] = c * apk - sn * aqk;
        a[q * 3 + k] = sn * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k * 3 + p]!;
        const vkq = v[k * 3 + q]!;
        v[k * 3 + p] = c * vkp - sn * vkq;
        v[k * 3 + q] = sn * vkp + c * vkq;
      }
    }
  }
  // Make the eigenvector basis right-handed so it is a proper rotation.
  const det =
    v[0]! * (v[4]! * v[8]! - v[5]! * v[7]!) - v[1]! * (v[3]! * v[8]! - v[5]! * v[6]!) + v[2]! * (v[3]! * v[7]! - v[4]! * v[6]!);
  if (det < 0) for (let k = 0; k < 3; k++) v[k * 3 + 2] = -v[k * 3 + 2]!;
  return { values: [a[0]!, a[4]!, a[8]!], rotation: mat3ToQuat(v as Mat3) };
}

/** Wraps an angle to [−π, π). */
export function wrapAngle(x: number): number {
  const twoPi = 2 * Math.PI;
  return ((((x + Math.PI) % twoPi) + twoPi) % twoPi) - Math.PI;
}

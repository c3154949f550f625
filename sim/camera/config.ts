import { z } from 'zod';

/**
 * Camera configs: what a simulated camera sees and how it is randomised. Validated once, at the
 * boundary (an env's `cameras:` option), with errors that name the field and the bad value.
 *
 * ```yaml
 * env:
 *   options:
 *     cameras:
 *       - name: front
 *         fovDeg: 45
 *         pose: { kind: fixed, position: [1.3, -0.9, 0.9], lookAt: [0.35, 0, 0.2] }
 *       - name: wrist
 *         depth: true
 *         pose: { kind: attached, link: panda_hand, position: [0.06, 0, 0], lookAt: [0.06, 0, 0.3], up: [1, 0, 0] }
 *         randomize: { positionM: 0.005, rotationDeg: 2, colorJitter: 0.1 }
 * ```
 */

const finite = z.number().finite();
const vec3 = z.tuple([finite, finite, finite]);

/** A camera at a fixed place in the world, looking at a point. World frame: metres, z up. */
export const FixedCameraPoseSchema = z
  .object({
    kind: z.literal('fixed'),
    /** Where the camera is (world frame, metres). */
    position: vec3,
    /** The point it looks at (world frame); must differ from `position`. */
    lookAt: vec3,
    /** Which way is up in the image (world frame). Default [0, 0, 1]; must not be parallel to the view direction. */
    up: vec3.default([0, 0, 1]),
  })
  .strict();

/**
 * A camera carried by a robot link (a wrist camera). `position`, `lookAt` and `up` are in the
 * frame of the link's first scene shape (`<link>#0`, or a shape named exactly `<link>`): for a
 * URDF robot (either engine) its first collision shape's centre and axes (capsules and cylinders
 * lie along that frame's y axis); for an MJCF file on MuJoCo, its first drawn geom's frame, or the
 * body's own frame when that geom is a mesh.
 */
export const AttachedCameraPoseSchema = z
  .object({
    kind: z.literal('attached'),
    /** The link, e.g. `panda_hand`. A scene without it is an error at render time. */
    link: z.string().min(1),
    /** Camera position in the link's shape frame (metres). Default [0, 0, 0]. */
    position: vec3.default([0, 0, 0]),
    /** The point it looks at, in the link's shape frame; must differ from `position`. */
    lookAt: vec3,
    /** Up in the image, in the link's shape frame. Default [0, 0, 1]. */
    up: vec3.default([0, 0, 1]),
  })
  .strict();

/**
 * Domain randomisation, drawn afresh by {@link CameraRig.randomize} (at each episode's start).
 * Every field defaults to 0 / [1, 1]: no randomisation.
 */
export const CameraRandomizeSchema = z
  .object({
    /** Camera position jitter: each axis uniform in ±positionM metres. Default 0. */
    positionM: finite.min(0).max(1).default(0),
    /** Camera rotation jitter: a rotation of up to rotationDeg degrees about a random axis. Default 0. */
    rotationDeg: finite.min(0).max(90).default(0),
    /** Light direction jitter: up to this many degrees away from the configured direction. Default 0. */
    lightDirectionDeg: finite.min(0).max(90).default(0),
    /** Light intensity multiplier, uniform in [low, high]. Default [1, 1]. */
    lightIntensity: z.tuple([finite.min(0), finite.min(0)]).default([1, 1]),
    /** Per-shape colour jitter: each channel scaled by a factor uniform in 1 ± colorJitter. Default 0. */
    colorJitter: finite.min(0).max(1).default(0),
  })
  .strict()
  .refine((r) => r.lightIntensity[0] <= r.lightIntensity[1], { message: 'lightIntensity must be [low, high] with low ≤ high', path: ['lightIntensity'] });

/** The one light: a directional light plus ambient (Lambert shading). */
export const CameraLightSchema = z
  .object({
    /** Direction the light comes from (world frame; need not be unit). Default [2, -3, 4], the dashboard's sun. */
    direction: vec3.default([2, -3, 4]),
    /** Directional intensity. Default 0.65. */
    intensity: finite.min(0).max(10).default(0.65),
    /** Ambient term. Default 0.45. */
    ambient: finite.min(0).max(10).default(0.45),
  })
  .strict();

/** One simulated camera. */
export const CameraConfigSchema = z
  .object({
    /** Unique among the env's cameras; the observation key, e.g. `front`, `wrist`. */
    name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, "_" and "-" only'),
    /** Image width in pixels. Default 64. */
    width: z.number().int().min(1).max(4096).default(64),
    /** Image height in pixels. Default 64. */
    height: z.number().int().min(1).max(4096).default(64),
    /** Vertical field of view in degrees (pixels are square). Default 45. */
    fovDeg: finite.gt(0).lt(180).default(45),
    /** Nearest distance drawn (metres, along the optical axis). Default 0.01. */
    near: finite.gt(0).default(0.01),
    /** Farthest distance drawn; empty pixels have this depth. Default 10. */
    far: finite.gt(0).default(10),
    /** Also render depth (float32 metres along the optical axis). Default false. */
    depth: z.boolean().default(false),
    /** Fixed in the world, or attached to a link. */
    pose: z.discriminatedUnion('kind', [FixedCameraPoseSchema, AttachedCameraPoseSchema]),
    light: CameraLightSchema.default({ direction: [2, -3, 4], intensity: 0.65, ambient: 0.45 }),
    /** Background colour (RGB 0–255) where nothing is hit. Default [243, 245, 249], the dashboard's. */
    background: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]).default([243, 245, 249]),
    randomize: CameraRandomizeSchema.optional(),
    /**
     * Shadows of the one light: every solid pixel whose path to the light another shape blocks
     * keeps only its ambient term (a see-through marker blocks its opacity's share), so a
     * floating object's shadow on the table shows where it is along the view ray. Default false
     * (the images recorded before this option, and the measurements taken on them, stay valid).
     */
    shadows: z.boolean().default(false),
  })
  .strict()
  .refine((c) => c.near < c.far, { message: 'near must be less than far', path: ['near'] })
  .refine((c) => !sameVec(c.pose.position, c.pose.lookAt), { message: 'lookAt must differ from position', path: ['pose', 'lookAt'] })
  .refine((c) => !parallel(sub(c.pose.lookAt, c.pose.position), c.pose.up), { message: 'up must not be parallel to the view direction (lookAt − position)', path: ['pose', 'up'] });

/** An env's cameras: a list with unique names. */
export const CamerasSchema = z
  .array(CameraConfigSchema)
  .max(16)
  .superRefine((cams, ctx) => {
    const seen = new Set<string>();
    cams.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `camera name "${c.name}" is used twice` });
      seen.add(c.name);
    });
  });

/** A validated camera config (defaults filled in). */
export type CameraConfig = z.output<typeof CameraConfigSchema>;
/** A camera config as written (defaults optional). */
export type CameraConfigInput = z.input<typeof CameraConfigSchema>;
export type CameraRandomize = z.output<typeof CameraRandomizeSchema>;

/** A camera config that failed validation; the message names each bad field and value. */
export class CameraConfigError extends Error {
  override readonly name = 'CameraConfigError';
}

/**
 * Validates an env's `cameras:` option (a list of camera configs). `where` prefixes every path
 * in the message (default `cameras`), e.g. `cameras.0.pose.lookAt: lookAt must differ from
 * position`.
 */
export function parseCameras(raw: unknown, where = 'cameras'): CameraConfig[] {
  return report(CamerasSchema.safeParse(raw), raw, where);
}

/** Validates one camera config (see {@link parseCameras}). */
export function parseCamera(raw: unknown, where = 'camera'): CameraConfig {
  return report(CameraConfigSchema.safeParse(raw), raw, where);
}

function report<T>(result: z.ZodSafeParseResult<T>, raw: unknown, where: string): T {
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = [where, ...issue.path.map(String)].join('.');
    const value = issue.path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), raw);
    return `  ${path}: ${issue.message}${value !== undefined && typeof value !== 'object' ? ` (got ${JSON.stringify(value)})` : ''}`;
  });
  throw new CameraConfigError(`Invalid camera config:\n${lines.join('\n')}`);
}

type V3 = readonly [number, number, number];
function sub(a: V3, b: V3): V3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
function sameVec(a: V3, b: V3): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}
/** Parallel or zero (the cross product is negligible against the lengths). */
function parallel(a: V3, b: V3): boolean {
  const cx = a[1] * b[2] - a[2] * b[1];
  const cy = a[2] * b[0] - a[0] * b[2];
  const cz = a[0] * b[1] - a[1] * b[0];
  const na = Math.hypot(a[0], a[1], a[2]);
  const nb = Math.hypot(b[0], b[1], b[2]);
  return Math.hypot(cx, cy, cz) <= 1e-9 * na * nb || na === 0 || nb === 0;
}

import type { SceneSource } from '../../control/scene.js';
import { Camera, type CameraFrame } from '../../sim/camera/camera.js';
import { parseCamera, type CameraConfigInput } from '../../sim/camera/config.js';
import { PANDA_FRONT_CAMERA } from '../../sim/camera/presets.js';
import { encodeJpeg } from '../camera-decode.js';
import { rosTime } from '../ros/messages.js';

export interface SimCameraOptions {
  /** Topic it publishes on. Default /camera/image_raw/compressed (compressed) or /camera/image_raw (raw). */
  readonly topic?: string;
  /** `compressed`: sensor_msgs/CompressedImage, JPEG; `raw`: sensor_msgs/Image, rgb8. Default compressed. */
  readonly type?: 'compressed' | 'raw';
  /** Frame size, pixels. Default 64 × 64. */
  readonly width?: number;
  readonly height?: number;
  /** Frames per second, on the camera's own timer. Default 30. */
  readonly hz?: number;
  /** JPEG quality 1–100. Default 85. */
  readonly quality?: number;
  /** Where the camera is and what it sees (sim/camera config; its width and height are these options'). Default the Panda front camera. */
  readonly view?: CameraConfigInput;
}

/** An image message; `data` is a Uint8Array, which rosbridge sends as base64 in JSON and as a byte string in CBOR. */
export type ImageMessage = Record<string, unknown>;

/**
 * The emulator's camera: renders the simulated scene at its own rate (free-running, as a real
 * camera driver does — it does not wait for commands) and hands each frame to its listeners as
 * a sensor_msgs/CompressedImage (JPEG) or sensor_msgs/Image (rgb8) message, stamped when it
 * was rendered, by the simulator's CPU renderer (sim/camera/) — the same picture a simulated
 * env's camera gives, so a policy trained in simulation sees the same scene through the emulator.
 */
export class SimCamera {
  readonly topic: string;
  readonly type: 'compressed' | 'raw';
  readonly width: number;
  readonly height: number;
  readonly hz: number;
  /** Frames published, and timer ticks skipped because the previous frame was still encoding. */
  readonly counters = { frames: 0, skipped: 0 };
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly listeners = new Set<(msg: ImageMessage) => void>();
  private readonly camera: Camera;
  private readonly frame: CameraFrame;

  constructor(
    private readonly source: SceneSource,
    private readonly options: SimCameraOptions = {},
  ) {
    this.type = options.type ?? 'compressed';
    this.topic = options.topic ?? (this.type === 'compressed' ? '/camera/image_raw/compressed' : '/camera/image_raw');
    this.width = options.width ?? 64;
    this.height = options.height ?? 64;
    this.hz = options.hz ?? 30;
    for (const [k, v] of [['width', this.width], ['height', this.height]] as const) if (!Number.isInteger(v) || v < 1 || v > 4096) throw new RangeError(`camera ${k} must be a whole number of pixels in 1–4096, got ${v}`);
    if (!(Number.isFinite(this.hz) && this.hz > 0 && this.hz <= 1000)) throw new RangeError(`camera hz must be in (0, 1000], got ${this.hz}`);
    this.camera = new Camera(parseCamera({ ...(options.view ?? PANDA_FRONT_CAMERA), width: this.width, height: this.height }, 'emulator camera'));
    this.frame = this.camera.createFrame();
  }

  /** The ROS message type it publishes. */
  get messageType(): 'sensor_msgs/CompressedImage' | 'sensor_msgs/Image' {
    return this.type === 'compressed' ? 'sensor_msgs/CompressedImage' : 'sensor_msgs/Image';
  }

  onFrame(listener: (msg: ImageMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts publishing at `hz` (idempotent). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.publish(), 1000 / this.hz);
  }

  /** Stops publishing (a camera that stops: the client must see it go stale). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Renders the scene now as RGB bytes (row-major, 3 a pixel; a copy, the renderer reuses its frame). */
  render(): Uint8Array {
    this.camera.render(this.source.scene(), this.frame);
    return Uint8Array.from(this.frame.rgb);
  }

  /** Renders, encodes and publishes one frame; a tick while the previous frame encodes is skipped. */
  async publish(): Promise<void> {
    if (this.busy) {
      this.counters.skipped++;
      return;
    }
    this.busy = true;
    try {
      const stamp = rosTime(Date.now());
      const rgb = this.render();
      const header = { seq: this.counters.frames, stamp, frame_id: 'camera' };
      const msg: ImageMessage =
        this.type === 'compressed'
          ? { header, format: 'jpeg', data: await encodeJpeg(rgb, this.width, this.height, this.options.quality ?? 85) }
          : { header, height: this.height, width: this.width, encoding: 'rgb8', is_bigendian: 0, step: this.width * 3, data: rgb };
      this.counters.frames++;
      for (const l of this.listeners) l(msg);
    } finally {
      this.busy = false;
    }
  }
}

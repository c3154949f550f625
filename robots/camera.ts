import { rateLimitedLog } from '../control/log.js';
import { decodeToRgb, type EncodedImage } from './camera-decode.js';

/** A robot camera, as configured (robots/config.ts validates it). */
export interface CameraConfig {
  /** The camera's name: the key of its frames (`robotEnv.cameraFrame(name)`). */
  readonly name: string;
  /** The image topic, e.g. /camera/color/image_raw/compressed. */
  readonly topic: string;
  /** `compressed`: sensor_msgs/CompressedImage (JPEG/PNG); `raw`: sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8). */
  readonly type: 'compressed' | 'raw';
  /** The size frames are resized to (the policy's input), pixels. */
  readonly width: number;
  readonly height: number;
  /**
   * A step whose newest frame of this camera was measured longer ago than this is stale: the
   * robot gets the safe stop, as for a stale joint state. A frame already this old when it
   * arrives is dropped (counted in `stale`). Default 250 ms.
   */
  readonly maxAgeMs?: number;
  /** Frames larger than this on the wire (encoded bytes) are dropped unread. Default 8 MiB. */
  readonly maxBytes?: number;
  /** Largest source image, pixels. Default 4096 × 4096. */
  readonly maxPixels?: number;
  /** rosbridge wire encoding of the topic: `none` (JSON, image bytes as base64) or `cbor` (binary; a third smaller, no base64). Default none. */
  readonly compression?: 'none' | 'cbor';
}

/** Defaults of the optional {@link CameraConfig} fields. */
export const CAMERA_DEFAULTS = { maxAgeMs: 250, maxBytes: 8 << 20, maxPixels: 4096 * 4096 } as const;

/** One decoded camera frame at the configured size. */
export interface CameraFrame {
  readonly width: number;
  readonly height: number;
  /** RGB, row-major, 3 bytes a pixel (`width × height × 3`). Not copied for each reader: do not write to it. */
  readonly rgb: Uint8Array;
  /** Sensor time, epoch ms (the header stamp, or the arrival time where it has none). */
  readonly stampMs: number;
  /** performance.now() when the message arrived. */
  readonly receivedAt: number;
  /** performance.now() time it was measured (from the stamp where trusted, else arrival): freshness is judged on this. */
  readonly measuredAt: number;
  /** Frames accepted from this camera so far, this one included. */
  readonly seq: number;
}

/** What a camera stream counts (reported in the robot's link stats under `cameras`). */
export interface CameraStats {
  /** Messages that arrived. */
  received: number;
  /** Frames decoded and taken as the newest. */
  decoded: number;
  /** Unusable frames: malformed, wrong encoding or size, over a cap, not decodable. */
  dropped: number;
  /** Frames already older than maxAgeMs when they arrived. */
  stale: number;
  /** Frames replaced by a newer one while the previous was still decoding (decoding slower than the camera). */
  superseded: number;
  /** Why the last unusable frame was dropped ('' if none). */
  lastError: string;
}

/** A message's frame before decoding. */
export interface IncomingFrame {
  readonly image: EncodedImage;
  readonly stampMs: number;
  readonly receivedAt: number;
  readonly measuredAt: number;
}

/**
 * One camera's frames: validated, decoded off the event loop one at a time (a frame arriving
 * during a decode waits, and a newer one replaces it — the newest frame matters, not every
 * frame), and kept as the newest frame with its stamp. Nothing that arrives can make it throw:
 * an unusable frame is counted, logged (rate-limited) and dropped, and the stream goes on.
 */
export class CameraStream {
  readonly stats: CameraStats = { received: 0, decoded: 0, dropped: 0, stale: 0, superseded: 0, lastError: '' };
  private latest: CameraFrame | null = null;
  private decoding = false;
  private pending: IncomingFrame | null = null;
  private closed = false;
  private readonly log: (line: string) => void;
  private readonly firstWaiters = new Set<(ok: boolean) => void>();

  constructor(
    readonly config: CameraConfig,
    log?: (line: string) => void,
  ) {
    this.log = rateLimitedLog(log ?? (() => {}), 5);
  }

  get maxAgeMs(): number {
    return this.config.maxAgeMs ?? CAMERA_DEFAULTS.maxAgeMs;
  }

  /** The newest decoded frame, or null before the first. */
  frame(): CameraFrame | null {
    return this.latest;
  }

  /** Counts and logs an unusable message (the transport could not even take it apart). */
  reject(reason: string): void {
    if (this.closed) return;
    this.stats.received++;
    this.drop(reason);
  }

  /** Takes one frame; never throws. */
  offer(f: IncomingFrame): void {
    if (this.closed) return;
    this.stats.received++;
    if (performance.now() - f.measuredAt > this.maxAgeMs) {
      this.stats.stale++;
      this.log(`camera ${this.config.name}: frame measured ${(performance.now() - f.measuredAt).toFixed(0)} ms ago arrived too late (maxAgeMs ${this.maxAgeMs}); dropped`);
      return;
    }
    if (this.decoding) {
      if (this.pending) this.stats.superseded++;
      this.pending = f;
      return;
    }
    void this.decode(f);
  }

  private async decode(f: IncomingFrame): Promise<void> {
    this.decoding = true;
    let next: IncomingFrame | null = f;
    while (next && !this.closed) {
      const cur: IncomingFrame = next;
      try {
        const rgb = await decodeToRgb(cur.image, this.config.width, this.config.height, { maxPixels: this.config.maxPixels ?? CAMERA_DEFAULTS.maxPixels });
        // A frame stamped before the newest one (out-of-order delivery) does not replace it.
        if (!this.closed && (!this.latest || cur.measuredAt >= this.latest.measuredAt)) {
          this.stats.decoded++;
          this.latest = { width: this.config.width, height: this.config.height, rgb, stampMs: cur.stampMs, receivedAt: cur.receivedAt, measuredAt: cur.measuredAt, seq: this.stats.decoded };
          for (const w of [...this.firstWaiters]) w(true);
        }
      } catch (err) {
        this.drop(err instanceof Error ? err.message : String(err));
      }
      next = this.pending;
      this.pending = null;
    }
    this.decoding = false;
  }

  private drop(reason: string): void {
    this.stats.dropped++;
    this.stats.lastError = reason.slice(0, 300);
    this.log(`camera ${this.config.name} (${this.config.topic}): dropped frame #${this.stats.dropped}: ${reason.slice(0, 200)}`);
  }

  /**
   * Why this camera is stale at `now` (performance.now()): no frame yet, or the newest measured
   * longer ago than maxAgeMs; null when it is fresh.
   */
  staleReason(now = performance.now()): string | null {
    const f = this.latest;
    const why = this.stats.lastError ? `; last dropped frame: ${this.stats.lastError}` : '';
    if (!f) return `camera ${this.config.name} (${this.config.topic}): no frame yet${why}`;
    const age = now - f.measuredAt;
    if (age <= this.maxAgeMs) return null;
    return `camera ${this.config.name} (${this.config.topic}): newest frame is ${age.toFixed(0)} ms old (maxAgeMs ${this.maxAgeMs})${why}`;
  }

  /** Resolves true at the first decoded frame, false after `timeoutMs` (or at close). */
  waitFirst(timeoutMs: number): Promise<boolean> {
    if (this.latest) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.firstWaiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.firstWaiters.add(done);
    });
  }

  /** Stops taking frames; a decode under way is discarded. */
  close(): void {
    this.closed = true;
    this.pending = null;
    for (const w of [...this.firstWaiters]) w(false);
  }
}

/// <reference lib="dom" />
import { field } from '../protocol.js';
import { h } from './dom.js';

/** A camera as the server lists it. */
export interface CameraInfo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_CAMERAS = 8;
/** How much bigger than its pixels a frame is drawn (64×64 frames are tiny on a screen). */
const ZOOM = 3;

/** Checks a `{cameras: [{name, width, height}]}` answer; returns why it is malformed. */
export function parseCameraList(v: unknown): CameraInfo[] | string {
  const raw = field(v, 'cameras');
  if (!Array.isArray(raw) || raw.length > MAX_CAMERAS) return `expected at most ${MAX_CAMERAS} cameras`;
  const out: CameraInfo[] = [];
  for (const c of raw) {
    const name = field(c, 'name');
    const width = field(c, 'width');
    const height = field(c, 'height');
    const size = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 4096;
    if (typeof name !== 'string' || !NAME.test(name) || !size(width) || !size(height)) return 'a camera without a valid name and size';
    out.push({ name, width, height });
  }
  return out;
}

interface Slot {
  readonly camera: CameraInfo;
  readonly canvas: HTMLCanvasElement;
  readonly status: HTMLElement;
  /** The frame drawn, the one being fetched, the newest one asked for. */
  shown: string | null;
  loading: string | null;
  wanted: { key: string; url: string } | null;
}

/**
 * Camera frames beside a 3D view (issue 23): one canvas per camera, each showing the frame of the
 * step the view draws. Frames are PNGs fetched from the server (decoded by the browser, drawn into
 * the canvas — nothing from the server becomes markup); one request per camera at a time, the
 * newest frame asked for is fetched next, so a fast replay never queues requests. A frame the
 * server cannot give shows its reason as text.
 */
export class CameraPanel {
  private slots: Slot[] = [];

  constructor(private readonly root: HTMLElement) {}

  /** The cameras to show (none: the panel is hidden). */
  setCameras(cameras: readonly CameraInfo[]): void {
    this.slots = cameras.map((camera) => {
      const canvas = h('canvas', { data: { camera: camera.name } });
      canvas.width = camera.width;
      canvas.height = camera.height;
      canvas.style.width = `${camera.width * ZOOM}px`;
      canvas.style.imageRendering = 'pixelated';
      return { camera, canvas, status: h('span', { className: 'muted' }), shown: null, loading: null, wanted: null };
    });
    this.root.replaceChildren(...this.slots.map((s) => h('figure', { className: 'camera' }, s.canvas, h('figcaption', {}, `${s.camera.name} ${s.camera.width}×${s.camera.height} `, s.status))));
    this.root.hidden = this.slots.length === 0;
  }

  get cameras(): readonly CameraInfo[] {
    return this.slots.map((s) => s.camera);
  }

  /** Shows the frame `key` (e.g. `episode:step`), fetched from `url(camera)` unless it is already shown. */
  show(key: string, url: (camera: string) => string): void {
    for (const s of this.slots) {
      if (s.shown === key || s.loading === key) continue;
      s.wanted = { key, url: url(s.camera.name) };
      if (s.loading === null) void this.fetchNext(s);
    }
  }

  private async fetchNext(s: Slot): Promise<void> {
    const next = s.wanted;
    if (!next || !this.slots.includes(s)) return;
    s.wanted = null;
    s.loading = next.key;
    try {
      const res = await fetch(next.url);
      if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).slice(0, 200)}`);
      await this.drawInto(s, await res.blob(), next.key);
    } catch (err) {
      s.status.textContent = (err as Error).message;
    } finally {
      s.loading = null;
    }
    if (s.wanted) await this.fetchNext(s);
  }

  /**
   * Draws an image (PNG bytes, e.g. pushed over a socket) as camera `name`'s frame `key`; an
   * unknown camera, an image that does not decode or is not the camera's size shows as text.
   */
  async draw(name: string, image: Blob, key: string): Promise<void> {
    const s = this.slots.find((x) => x.camera.name === name);
    if (!s) return;
    try {
      await this.drawInto(s, image, key);
    } catch (err) {
      s.status.textContent = (err as Error).message;
    }
  }

  private async drawInto(s: Slot, image: Blob, key: string): Promise<void> {
    const bitmap = await createImageBitmap(image);
    if (bitmap.width !== s.camera.width || bitmap.height !== s.camera.height) throw new Error(`a ${bitmap.width}×${bitmap.height} frame for a ${s.camera.width}×${s.camera.height} camera`);
    s.canvas.getContext('2d')?.drawImage(bitmap, 0, 0);
    bitmap.close();
    s.shown = key;
    s.canvas.dataset['frame'] = key;
    s.status.textContent = '';
  }
}

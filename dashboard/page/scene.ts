/// <reference lib="dom" />
import { q } from './dom.js';
import { SceneFrames, type Frame } from './frames.js';
import { SceneRenderer } from './scene-renderer.js';

/**
 * The dashboard's view of a recording: the episode's frames drawn by a {@link SceneRenderer},
 * with play, scrub, follow-live and a looping finished recording. Frames are checked and bounded
 * by {@link SceneFrames}.
 */
export class SceneView {
  readonly recording = new SceneFrames();
  frameIndex = 0;
  playing = true;
  private readonly canvas = q('#scene-canvas', HTMLCanvasElement);
  private readonly renderer = new SceneRenderer(this.canvas);
  private lastTick = performance.now();
  /** Called with each frame drawn (the camera panel follows the view). */
  onFrame: ((f: Frame) => void) | null = null;

  /** A new recording: forget the old one's frames. */
  clear(): void {
    this.recording.clear();
    this.frameIndex = 0;
    this.renderer.forget();
  }

  /** Lines of the recording as it grows; returns how many were malformed. */
  addLines(lines: readonly unknown[], reset: boolean): number {
    if (reset) this.recording.clear();
    const frames = this.recording.frames;
    const atEnd = this.frameIndex >= frames.length - 1;
    const { bad, dropped } = this.recording.add(lines);
    this.frameIndex = Math.max(0, this.frameIndex - dropped);
    q('#scrub', HTMLInputElement).max = String(Math.max(0, frames.length - 1));
    if (q('#follow', HTMLInputElement).checked && atEnd && !this.playing) this.frameIndex = frames.length - 1;
    this.canvas.dataset['frames'] = String(frames.length);
    const last = frames.at(-1);
    if (last) this.canvas.dataset['lastT'] = String(last.t);
    return bad;
  }

  /** One animation frame: advance when playing (at the recording's rate) and draw. */
  tick(now: number): void {
    const frames = this.recording.frames;
    if (q('#tab-scene').hidden || frames.length === 0) return;
    if (this.playing && now - this.lastTick >= 1000 / this.recording.hz) {
      this.lastTick = now;
      if (this.frameIndex < frames.length - 1) this.frameIndex++;
      else if (!q('#follow', HTMLInputElement).checked) this.frameIndex = 0; // loop a finished recording
    }
    const f = frames[Math.min(this.frameIndex, frames.length - 1)];
    if (f) this.apply(f);
  }

  /** Where a shape's centre is on the canvas (CSS px), for tests and scripts. */
  project(name: string): { x: number; y: number } | null {
    return this.renderer.project(name);
  }

  private apply(f: Frame): void {
    this.renderer.draw(f);
    this.onFrame?.(f);
    q('#scene-info').textContent = `episode ${f.episode} · step ${f.t}${f.reward === undefined ? '' : ` · reward ${f.reward.toFixed(3)}`}${f.success ? ' · success' : ''} · frame ${this.frameIndex + 1}/${this.recording.frames.length}`;
    q('#scrub', HTMLInputElement).value = String(this.frameIndex);
  }
}

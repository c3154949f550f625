import type { ReadStream } from 'node:tty';
import { ButtonPresses, IDLE, type TeleopContext, type TeleopDevice, type TeleopReading } from '../device.js';

/** Keys for + and − on each action dimension, in order (joint 1: q/a, joint 2: w/s, …). */
const AXIS_KEYS: readonly [string, string][] = [
  ['q', 'a'],
  ['w', 's'],
  ['e', 'd'],
  ['r', 'f'],
  ['t', 'g'],
  ['y', 'h'],
  ['u', 'j'],
  ['i', 'k'],
];

export interface KeyboardOptions {
  /** Action dimensions (≤ 8). */
  readonly dims: number;
  /** Magnitude of a held key's action (learner units). Default 0.5. */
  readonly gain?: number;
  /**
   * A terminal in raw mode sends key-downs only (repeats while held, no key-up): a key counts as
   * held until this long after its last repeat. Default 150 ms (typical repeat: 30–50 ms after
   * a first delay of up to 500 ms, so the first gap is bridged by `firstHoldMs`).
   */
  readonly holdMs?: number;
  /** Hold after a key's first press, before the terminal starts repeating it. Default 550 ms. */
  readonly firstHoldMs?: number;
  /** Clock, ms (tests). Default performance.now. */
  readonly now?: () => number;
  /**
   * The action's gripper entry, when the keys drive a tool-frame action that has one: that axis is
   * a position, not a rate. Each takeover starts with the policy's gripper (a 0 would half-open
   * fingers that hold something); once one of its keys is pressed it goes to +1 / −1 and stays there
   * until the other key is pressed or control is handed back.
   */
  readonly gripper?: number;
}

/**
 * The key map for an action of `dims` dimensions (only the keys that drive something), named by
 * `labels` (default "dim 1", …; the tool frame passes "tcp x", …).
 */
export function keyboardHelp(dims: number, labels?: readonly string[]): string {
  const axes = AXIS_KEYS.slice(0, dims).map(([p, m], i) => `${p}/${m} = ${labels?.[i] ?? `dim ${i + 1}`} +/−`);
  return `keyboard teleop: space = take over / hand back · ${axes.join(' · ')} · enter = success · x = failure · n = end episode · esc = e-stop · ctrl-c = quit`;
}

/**
 * Where the escape-sequence parser is between bytes (ECMA-48): after ESC, inside a CSI (ESC [
 * parameters, intermediates, final byte 0x40–0x7E) or waiting for an SS3's final byte (ESC O x).
 * Kept across reads, so a sequence split between two reads is still skipped whole.
 */
type EscapeState = 'none' | 'esc' | 'csi' | 'ss3';

/**
 * The terminal keyboard as a teleop device (raw mode). Space toggles control; while in control,
 * held keys move each action dimension (joint-target deltas on the arm tasks) by ±`gain`; Enter,
 * x and n are the success / failure / end-episode buttons; Esc is the e-stop. Input is read as
 * it arrives and `poll` only looks at what is held now — it never blocks. Escape sequences
 * (arrows, F-keys, Ctrl+arrows) are skipped whole; they and unknown bytes are ignored (counted).
 * Buttons of one tick are all kept, the e-stop first ({@link ButtonPresses}). Ctrl-C raises SIGINT (raw mode would otherwise swallow it).
 */
export class KeyboardDevice implements TeleopDevice {
  readonly name = 'keyboard';
  private engaged = false;
  private readonly heldUntil = new Map<string, number>();
  private readonly pressedAt = new Map<string, number>();
  private readonly buttons = new ButtonPresses();
  private escape: EscapeState = 'none';
  /** The ESC that began the current sequence already stopped (it ended its read). */
  private escapeStopped = false;
  private connected = true;
  private error: string | undefined;
  readonly stats = { keys: 0, ignored: 0 };
  private readonly now: () => number;
  /** The gripper position set by its keys since this takeover; null: the policy's. */
  private grip: number | null = null;

  constructor(
    private readonly input: ReadStream,
    private readonly options: KeyboardOptions,
  ) {
    if (!(options.dims >= 1 && options.dims <= AXIS_KEYS.length)) throw new RangeError(`keyboard teleop drives 1–${AXIS_KEYS.length} action dimensions, got ${options.dims}`);
    const g = options.gripper;
    if (g !== undefined && !(Number.isInteger(g) && g >= 0 && g < options.dims)) throw new RangeError(`keyboard teleop: gripper axis ${g} is not one of the ${options.dims} dimensions`);
    this.now = options.now ?? (() => performance.now());
    if (!input.isTTY) throw new Error('keyboard teleop needs a terminal (stdin is not a TTY)');
    input.setRawMode(true);
    input.on('data', (d: Buffer) => this.onBytes(d));
    input.on('end', () => this.lost('the terminal closed'));
    input.on('error', (e: Error) => this.lost(e.message));
    input.resume();
  }

  private lost(why: string): void {
    this.connected = false;
    this.error = `keyboard: ${why}`;
  }

  private onBytes(d: Buffer): void {
    const now = this.now();
    for (let i = 0; i < d.length; i++) {
      const b = d[i] as number;
      this.stats.keys++;
      if (this.escape !== 'none' && this.inEscape(b)) continue;
      if (b === 0x03) {
        process.kill(process.pid, 'SIGINT');
        continue;
      }
      if (b === 0x1b) {
        // A terminal writes a sequence whole: an ESC that ends its read is the Esc key, and
        // stops at once (should a sequence's rest still follow, it is skipped whole).
        this.escape = 'esc';
        this.escapeStopped = i === d.length - 1;
        if (this.escapeStopped) this.estop();
        continue;
      }
      this.onKey(String.fromCharCode(b).toLowerCase(), now);
    }
  }

  /**
   * One byte after an ESC. Returns true when it belongs to an escape sequence (consumed); false
   * when the ESC stood alone and this byte is a key of its own (Esc, then another key in the same
   * read: the e-stop, then that key). Unknown sequences (F-keys, Ctrl+arrows, paste brackets) are
   * ignored whole, never read as the letters they end in.
   */
  private inEscape(b: number): boolean {
    switch (this.escape) {
      case 'esc':
        if (b === 0x5b || b === 0x4f) {
          this.escape = b === 0x5b ? 'csi' : 'ss3';
          return true;
        }
        if (!this.escapeStopped) this.estop();
        this.escape = 'none';
        return false;
      case 'csi':
        if (b >= 0x20 && b <= 0x3f) return true; // parameters and intermediates
        this.endEscape();
        return b >= 0x40 && b <= 0x7e; // the final byte; anything else ends a malformed sequence and is read as a key
      case 'ss3':
        this.endEscape();
        return b >= 0x40 && b <= 0x7e;
      case 'none':
        return false;
    }
  }

  private endEscape(): void {
    this.escape = 'none';
    this.stats.ignored++;
  }

  private estop(): void {
    this.buttons.press('estop');
    this.engaged = false;
  }

  private onKey(key: string, now: number): void {
    if (key === ' ') {
      this.engaged = !this.engaged;
      this.heldUntil.clear();
      this.grip = null;
    } else if (key === '\r' || key === '\n') this.buttons.press('success');
    else if (key === 'x') this.buttons.press('failure');
    else if (key === 'n') this.buttons.press('end-episode');
    else if (AXIS_KEYS.slice(0, this.options.dims).some(([p, m]) => p === key || m === key)) {
      const g = this.options.gripper;
      const gripKeys = g === undefined ? undefined : AXIS_KEYS[g];
      if (this.engaged && gripKeys?.includes(key)) this.grip = key === gripKeys[0] ? 1 : -1;
      const repeat = (this.heldUntil.get(key) ?? -Infinity) > now;
      if (!repeat) this.pressedAt.set(key, now);
      const first = now - (this.pressedAt.get(key) ?? now) < (this.options.firstHoldMs ?? 550);
      this.heldUntil.set(key, now + (first ? (this.options.firstHoldMs ?? 550) : (this.options.holdMs ?? 150)));
    } else this.stats.ignored++;
  }

  poll(context: TeleopContext): TeleopReading {
    const button = this.buttons.take();
    if (!this.connected) return { ...IDLE, connected: false, error: this.error, button };
    if (!this.engaged) return { ...IDLE, button };
    const now = this.now();
    const gain = this.options.gain ?? 0.5;
    const action = new Float32Array(this.options.dims);
    AXIS_KEYS.slice(0, this.options.dims).forEach(([plus, minus], i) => {
      if ((this.heldUntil.get(plus) ?? -Infinity) > now) action[i] = (action[i] as number) + gain;
      if ((this.heldUntil.get(minus) ?? -Infinity) > now) action[i] = (action[i] as number) - gain;
    });
    const g = this.options.gripper;
    if (g !== undefined && g < action.length) action[g] = this.grip ?? Math.max(-1, Math.min(1, context.proposed[g] ?? 0));
    return { engaged: true, action, button, connected: true };
  }

  async close(): Promise<void> {
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
    this.input.destroy();
  }
}

/**
 * A one-line progress display on stderr: redrawn in place on a terminal, throttled to a few
 * lines per second otherwise (so CI logs stay readable). Never writes to stdout, which is kept
 * for results (`--json`).
 */
export class Progress {
  private lastDraw = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly enabled = true,
  ) {}

  update(done: number, detail: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < (this.tty ? 100 : 2000)) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((width * Math.min(done, this.total)) / Math.max(1, this.total));
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${detail}`;
    process.stderr.write(this.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  done(): void {
    if (this.enabled && this.tty) process.stderr.write('\n');
  }
}

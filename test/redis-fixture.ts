import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/**
 * A real redis-server from Debian on a free loopback port, with its own folder (AOF with
 * fsync on every write when `aof`), that tests can stop and start again on the same port and
 * data.
 */
export class RedisServer {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'roborl-redis-'));

  private constructor(
    readonly port: number,
    private readonly extra: string[],
  ) {}

  /** redis-cli's arguments: the port, and the password when the server requires one. */
  private cliArgs(): string[] {
    const i = this.extra.indexOf('--requirepass');
    return ['-p', String(this.port), ...(i >= 0 ? ['-a', this.extra[i + 1] as string, '--no-auth-warning'] : [])];
  }

  static async start(options: { aof?: boolean; extra?: string[] } = {}): Promise<RedisServer> {
    const port = await freePort();
    const aof = options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const server = new RedisServer(port, [...aof, ...(options.extra ?? [])]);
    await server.up();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) and waits until it answers. */
  async up(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, ...this.extra], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (spawnSync('redis-cli', [...this.cliArgs(), 'ping'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG') {
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills it (SIGKILL: no clean shutdown, as a crash). */
  async down(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  cli(...args: string[]): string {
    return spawnSync('redis-cli', [...this.cliArgs(), ...args], { encoding: 'utf8' }).stdout.trim();
  }
}

/** Runs `body` against a redis-server of its own (started with `options`), and stops the server whatever happens. */
export async function withRedis(options: Parameters<typeof RedisServer.start>[0], body: (server: RedisServer) => Promise<void>): Promise<void> {
  const server = await RedisServer.start(options);
  try {
    await body(server);
  } finally {
    await server.down();
  }
}

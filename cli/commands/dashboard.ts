import { existsSync } from 'node:fs';
import { Dashboard } from '../../dashboard/server.js';
import { allowFlags, intFlag, stringFlag, UsageError, type Args } from '../args.js';

/** `roborl dashboard [runs-dir] [--port P] [--host H]`: serves until Ctrl-C. */
export async function dashboardCommand(args: Args): Promise<void> {
  allowFlags(args, 'dashboard', ['port', 'host']);
  const runsDir = args.positionals[0] ?? 'runs';
  const host = stringFlag(args, 'host') ?? '127.0.0.1';
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const port = intFlag(args, 'port', 0, 0, 65535);
  const dashboard = await Dashboard.open({ runsDir, host, port, log }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${host} is already in use: pick another with --port, or leave it out for a free one`);
    if (err.code === 'EACCES') throw new UsageError(`no permission to listen on port ${port} (ports below 1024 need root): pick another with --port`);
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UsageError(`--host ${host} is not an address of this machine`);
    throw err;
  });
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) log(`WARNING: the dashboard listens on ${host}: anyone there with the token sees your runs and can use a run's teleop page`);
  if (!existsSync(runsDir)) log(`${runsDir} does not exist yet; runs appear as they are written (roborl train writes runs/<name>-<time>/)`);
  process.stdout.write(`roborl dashboard for ${runsDir}: ${dashboard.url}\n(Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void dashboard.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

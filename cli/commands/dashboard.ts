import { existsSync } from 'node:fs';
import { Dashboard } from '../../dashboard/server.js';
import { allowFlags, intFlag, stringFlag, type Args } from '../args.js';

/** `roborl dashboard [runs-dir] [--port P] [--host H]`: serves until Ctrl-C. */
export async function dashboardCommand(args: Args): Promise<void> {
  allowFlags(args, 'dashboard', ['port', 'host']);
  const runsDir = args.positionals[0] ?? 'runs';
  const host = stringFlag(args, 'host') ?? '127.0.0.1';
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const dashboard = await Dashboard.open({ runsDir, host, port: intFlag(args, 'port', 0, 0, 65535), log });
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

import { parseArgs, UsageError, type Args } from './args.js';
import { HELP, USAGE, type CommandName } from './usage.js';

/**
 * The `roborl` command. Each command's module is imported only when that command runs, so
 * `roborl --help`, `roborl <command> --help` and `roborl envs` do not pay for loading
 * TensorFlow.js (and help does not load Rapier either).
 */
const COMMANDS: Record<CommandName, { booleans: readonly string[]; run: (args: Args) => Promise<void> }> = {
  envs: { booleans: ['json'], run: async (a) => (await import('./commands/envs.js')).envsCommand(a) },
  run: { booleans: ['json'], run: async (a) => (await import('./commands/run.js')).runCommand(a) },
  train: { booleans: ['quiet'], run: async (a) => (await import('./commands/train.js')).trainCommand(a) },
  eval: { booleans: ['json', 'best'], run: async (a) => (await import('./commands/eval.js')).evalCommand(a) },
  serve: { booleans: [], run: async (a) => (await import('./commands/serve.js')).serveCommand(a) },
  'record-demos': { booleans: ['keep-failures'], run: async (a) => (await import('./commands/record-demos.js')).recordDemosCommand(a) },
  teleop: { booleans: [], run: async (a) => (await import('./commands/teleop.js')).teleopCommand(a) },
  classifier: { booleans: [], run: async (a) => (await import('./commands/classifier.js')).classifierCommand(a) },
  learner: { booleans: ['quiet'], run: async (a) => (await import('./commands/train.js')).trainCommand(a, 'learner') },
  actor: { booleans: [], run: async (a) => (await import('./commands/actor.js')).actorCommand(a) },
  dashboard: { booleans: [], run: async (a) => (await import('./commands/dashboard.js')).dashboardCommand(a) },
  plot: { booleans: [], run: async (a) => (await import('./commands/analysis.js')).plotCommand(a) },
  compare: { booleans: [], run: async (a) => (await import('./commands/analysis.js')).compareCommand(a) },
  render: { booleans: [], run: async (a) => (await import('./commands/render.js')).renderCommand(a) },
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return;
  }
  if (!(command in COMMANDS)) throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  const name = command as CommandName;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE[name]}\n`);
    return;
  }
  const { booleans, run } = COMMANDS[name];
  return run(parseArgs(rest, booleans));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as Error;
  // Messages are written to be read on their own; the stack only helps when debugging roborl.
  process.stderr.write(`roborl: ${process.env['ROBORL_DEBUG'] ? (e.stack ?? e.message) : e.message}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});

import { parseArgs, UsageError } from './args.js';
import { envsCommand } from './commands/envs.js';
import { evalCommand } from './commands/eval.js';
import { recordDemosCommand } from './commands/record-demos.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';

const HELP = `roborl — reinforcement learning for robot control
(set ROBORL_DEBUG=1 to print stack traces with errors)

usage:
  roborl envs [--json]                       list the registered environments
  roborl run <env-id> [options]              run episodes with a random or scripted policy
      --policy random|scripted   (default random)
      --episodes N               (default 10)
      --seed S                   (default 0; episode i uses seed S + i)
      --json                     print the summary as JSON on stdout
  roborl train <config.yaml> [--run-dir DIR] [--backend auto|tensorflow-gpu|tensorflow|wasm|cpu] [--quiet]
                                             train (configs/ has examples); writes the run folder
  roborl train --resume <run-dir>            continue a run from its newest checkpoint
  roborl eval <run-dir> [--episodes N] [--json] [--robot ROBOT.yaml]
                                             deterministic evaluation of a run's newest checkpoint,
                                             on the simulator or on a robot (configs/robots/)
  roborl serve ros --env <id> [--host H] [--port P] [--mode realtime|lockstep]
                                             a simulated robot behind a rosbridge v2 server (127.0.0.1)
  roborl serve serial --env <id> --protocol dynamixel|framed --port TTY [--mode realtime|lockstep]
                                             a simulated robot behind a serial protocol
  roborl record-demos --env <id> --policy scripted --episodes N [--out FILE] [--keep-failures]
                                             record expert demonstrations for RLPD configs
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'envs':
      return envsCommand(parseArgs(rest, ['json']));
    case 'run':
      return runCommand(parseArgs(rest, ['json']));
    case 'train':
      return trainCommand(parseArgs(rest, ['quiet']));
    case 'eval':
      return evalCommand(parseArgs(rest, ['json']));
    case 'record-demos':
      return recordDemosCommand(parseArgs(rest, ['keep-failures']));
    case 'serve':
      return serveCommand(parseArgs(rest, []));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as Error;
  // Messages are written to be read on their own; the stack only helps when debugging roborl.
  process.stderr.write(`roborl: ${process.env['ROBORL_DEBUG'] ? (e.stack ?? e.message) : e.message}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});

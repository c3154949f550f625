/**
 * Every command's help, in a module that imports nothing: `roborl --help` and `roborl <command>
 * --help` answer without loading TensorFlow.js or Rapier (which took 7–9 s per command).
 */
export const USAGE = {
  envs: `usage: roborl envs [--json]
  List the registered environments: observation and action sizes, control rate, episode
  length, constraint names, and whether a scripted expert exists.
  --json    one JSON array on stdout`,
  run: `usage: roborl run <env-id> [--policy random|scripted] [--episodes N] [--seed S] [--json]
  Run episodes with a random or scripted policy (no learning) and summarise them.
  --policy random|scripted   (default random)
  --episodes N               (default 10)
  --seed S                   seed of episode 0, an integer in [0, 2^32) (default 0; episode i uses S + i)
  --json                     print the summary as JSON on stdout`,
  train: `usage:
  roborl train <config.yaml> [--run-dir DIR] [--steps N] [--backend auto|tensorflow-gpu|blas|tensorflow|wasm|cpu] [--teleop keyboard|hid|web|simulated] [--robot ROBOT.yaml] [--quiet]
  roborl train --resume <run-dir> [--steps N] [--backend …] [--robot ROBOT.yaml] [--quiet]
  Train from an experiment config (configs/ has examples); writes the run folder:
  config.yaml (resolved), metrics.jsonl, checkpoints/.
  <config.yaml>     experiment config; every field is checked before anything is written
  --run-dir DIR     run folder (default runs/<name>-<time>); must be new or empty
  --resume DIR      continue a run from its newest checkpoint, with the run's own config.yaml
  --steps N         total env steps (with --resume: extend a run to N)
  --backend NAME    tensor backend (default: the config's, auto)
  --teleop DEVICE   a person may take over: keyboard (this terminal: space = take over / hand
                    back, q/a w/s e/d r/f t/g y/h u/j = action dims 1–7 +/−, enter = success,
                    x = failure, n = end episode, esc = e-stop), hid (a SpaceMouse / gamepad,
                    hil.hid in the config; needs npm install node-hid), web (a page on 127.0.0.1;
                    its address with a random token is printed) or simulated; their transitions
                    go to both buffers (the config's hil: section sets the rest, e.g. hil.frame: tcp)
  --robot FILE      train on a robot (configs/robots/; its task must be the config's env): one
                    actor thread steps the arm at its control rate, the learner updates beside it
                    and never delays a step (SAC / RLPD; distributed.actors 1). Evaluations run on
                    the simulated task; a stale link holds the arm, Ctrl-C and the teleop e-stop
                    hold it and checkpoint; --resume a robot run with --robot again
  --quiet           no progress line
  A config with a distributed: section (SAC / RLPD) runs distributed.actors actor threads and one
  learner, the update-to-data ratio held by a rate limiter (roborl learner / actor: across machines).
  Ctrl-C / SIGTERM checkpoint and exit 130 / 143; a kill loses at most train.checkpointEvery steps.`,
  eval: `usage: roborl eval <run-dir> [--best] [--episodes N] [--seed S] [--json] [--robot ROBOT.yaml | --engine rapier|mujoco] [--record FILE]
  Deterministic evaluation of a run's newest checkpoint, on the simulator or unchanged on a
  robot (configs/robots/): mean ± std return, success, episode costs.
  --best             the policy of the run's best evaluation so far (SAC / RLPD runs keep it in
                     <run-dir>/best/: highest success, then return; constrained runs: limits met)
  --episodes N       (default 10)
  --seed S           seed of episode 0, an integer in [0, 2^32) (default: the common evaluation seed, 4000000000)
  --json             print the summary as JSON on stdout
  --robot FILE       a robot config (ROS or serial); episodes the link cuts off are rerun and reported
  --engine NAME      evaluate on another physics engine than the run trained on (rapier, mujoco):
                     sim-to-sim transfer of the same task
  --record FILE      write every episode's scene (shapes and poses per step, JSON lines) for the
                     dashboard's 3D view; under <run-dir>/scenes/ as NAME.scene.jsonl it shows up in
                     the dashboard's list, followed live as it is written (on a robot: the arm
                     drawn from its measured joints)
  Ctrl-C stops it; on a robot, the hold command is sent first (exit 130).`,
  serve: `usage:
  roborl serve ros --env <sim-id> [--host 127.0.0.1] [--port 9090] [--mode realtime|lockstep] [--sensor-hz 100]
                   [--command-type std_msgs/Float64MultiArray|trajectory_msgs/JointTrajectory|geometry_msgs/Twist] [--flavor ros1|ros2] [--record FILE]
                   [--camera-hz 15] [--camera-size 64x64] [--camera-type compressed|raw]
                   [--gripper control_msgs/GripperCommandActionGoal|std_msgs/Float64MultiArray [--gripper-topic T]]
  roborl serve serial --env <sim-id> --protocol dynamixel|framed --port <tty> [--baud 1000000] [--mode realtime|lockstep] [--sensor-hz 100] [--gripper-id N]
  A simulated robot behind a real wire protocol: a rosbridge v2 server (127.0.0.1 unless --host
  says otherwise; other hosts are warned about), or Dynamixel X-series servos / roborl's framed
  protocol on a serial port (e.g. one end of a socat pty pair). Runs free like hardware
  (physics on the wall clock, states at --sensor-hz) unless --mode lockstep. Ctrl-C holds the
  arm and stops.
  --record FILE   write the simulated scene 10 times a second for the dashboard's 3D view (put it
                  under <run>/scenes/NAME.scene.jsonl to see it there, followed live)
  --camera-hz N   ros: the simulated front camera (the simulator's renderer) publishes on
                  /camera/image_raw/compressed (JPEG; --camera-type raw: rgb8 on /camera/image_raw)
                  N frames a second on its own timer; 0 for none. Default 15, --camera-size 64x64
  --gripper TYPE  ros: the hand's fingers, commanded on --gripper-topic (default
                  /franka_gripper/gripper_action/goal, franka_gripper's GripperCommand goals: each
                  finger's position in m) — for a task with action.gripper (robot YAML: gripper: {})
  --gripper-id N  serial (dynamixel): the fingers as servo N after the arm's, Goal Position 2048
                  closed – 3072 open (robot YAML: gripper: { id: N })`,
  'record-demos': `usage: roborl record-demos --env <id> | --config <train.yaml> [--device scripted|keyboard|hid|web] [--frame joint|tcp] [--robot ROBOT.yaml]
                           [--episodes N] [--out FILE] [--seed S] [--keep-failures] [--starts all|spread|central:S]
  Record demonstrations for RLPD configs, through the env stack training uses (env options,
  cost expressions, Tier 0 limits, shield): the stored actions are the executed ones, in the
  learner's [−1, 1] units.
  --policy scripted  the task's expert (the same as --device scripted)
  --policy RUN       a camera run's policy (its newest checkpoint, deterministic) acts instead, on
                     what the config's learner observes (the run must observe the same); with
                     --keep-failures its episodes are the negatives a success classifier needs
  --device D         scripted: the task's expert (default); keyboard, hid or web: a person drives
                     (take over to move; the arm holds still otherwise); their success button
                     ends a kept episode, failure / end-episode discard it
  --frame F          joint (one axis per action) or tcp (three axes move the gripper; Panda tasks)
  --robot FILE       a person records on a robot (configs/robots/) instead of the simulator
  --config FILE      a training config whose env and safety sections to record with (default: --env's
                     defaults); its algo.demos gives the defaults of --episodes and --starts, and
                     of --out when the recording is the one it describes (a file of its own else)
  --episodes N       successful episodes to keep (default 20)
  --out FILE         (default demos/<env>-<N>.demos); rewritten after each kept episode, so
                     Ctrl-C loses nothing kept
  --seed S           seed of the first attempt, an integer in [0, 2^32) (default 5000000)
  --keep-failures    keep unsuccessful episodes too
  --starts P         the expert's start states: all (default: consecutive seeds from --seed),
                     spread (picked from 50 candidate starts an episode, so that a few demos
                     cover the task's object, goal or target positions evenly: kernel herding;
                     a start the expert fails from is replaced by the next pick) or central:S
                     (the share S nearest the middle: starts a person's corrections must cover)`,
  teleop: `usage: roborl teleop --env <id> | --config <train.yaml> --device keyboard|hid|web [--frame joint|tcp] [--robot ROBOT.yaml] [--episodes N] [--seed S]
  Drive the simulator or a robot by hand, with no learning, through the same Tier 0 limits and
  shield as training (a person's command never bypasses them). The arm holds still whenever
  the person is not in control; a device that disconnects holds the robot and ends the episode.
  Each episode is summarised. Ctrl-C holds the robot and stops (exit 130).
  --device D     keyboard (this terminal), hid (SpaceMouse / gamepad, needs npm install node-hid),
                 web (a page on 127.0.0.1; its address with a random token is printed)
  --frame F      joint (default) or tcp (three axes move the gripper; Panda tasks)
  --robot FILE   a robot config (configs/robots/): drive the real robot
  --episodes N   stop after N episodes (default: until Ctrl-C)`,
  classifier: `usage: roborl classifier train --demos A.demos[,B.demos…] --out FILE [--success-frames K] [--negatives R]
                                [--held-out F] [--min-precision P] [--epochs N] [--seed S] [--camera NAME]
  Train a success classifier (a learned reward, as HIL-SERL's) from demo tables: the last K
  frames (default 1) of every episode that ended in success — kept demos, success-button
  presses — are positives; R× as many other frames (default 3, half of them the frames just
  before a success) are negatives; binary cross-entropy. A share F of the episodes (default
  0.2), drawn at random by --seed, is held out: the threshold is picked on half of them for
  precision ≥ P (default 0.95) — a false success teaches a wrong goal — and precision and
  recall are reported on the other half, which took no part in training or picking. Use the file as env.rewardClassifier in a config: reward 1 and the episode ends
  when it says success. Demos recorded with cameras train a classifier that looks at one camera
  (--camera, default their first) through a conv encoder; camera runs take it as their reward.`,
  learner: `usage:
  roborl learner <config.yaml> [--redis redis://HOST:6379] [--run-dir DIR] [--steps N] [--backend …] [--quiet]
  roborl learner --resume <run-dir> [--redis URL] [--steps N]
  The learner of an actor/learner split across machines (SAC / RLPD): transitions arrive from
  \`roborl actor\` processes through Redis Streams, updates run as the rate limiter allows
  (distributed.samplesPerInsert), parameters go back to the actors. Writes the run folder as
  train does; Ctrl-C checkpoints. A learner killed between checkpoints gets the batches since
  again (they are acknowledged only once a checkpoint holds them) and applies none twice.
  --redis URL   Redis (default the config's distributed.redis.url, redis://127.0.0.1:6379;
                rediss:// for TLS; distributed.redis.username / password to log in)`,
  actor: `usage: roborl actor <config.yaml> [--redis redis://HOST:6379] [--robot ROBOT.yaml] [--actor-id ID] [--seed S]
  An actor of an actor/learner split: steps the config's env (or a robot) with the newest
  policy the learner published and streams its transitions to it through Redis. Waits while
  the learner's rate limiter says so; a Redis that is down or full is retried and reported,
  never dropped. Run as many as you like, on as many machines; Ctrl-C stops it (a robot is
  sent its hold command). Joins the config's current run, or waits for a learner to start one;
  restarted (same --actor-id or not), it is a new incarnation with fresh episodes.
  --redis URL      Redis (default the config's distributed.redis.url)
  --robot FILE     drive a real robot (configs/robots/) instead of the simulator
  --actor-id ID    unique among the actors (default <host>-<pid>)
  --seed S         exploration and episode seeds of its first incarnation (default: from the
                   actor id; each restart derives a new one)`,
  dashboard: `usage: roborl dashboard [runs-dir] [--port P] [--host H]
  A local web app over a folder of runs (default runs/): the run list, live curves (return,
  success, costs and λ, intervention rate, losses, α, updates/s; runs overlaid, or mean ± 95% CI
  over the seeds of each config), a 3D view of recorded episodes (train records each
  evaluation's first episode; roborl eval <run> --record FILE) followed live as they are
  written, and the teleop panel of a run started with --teleop web. Serves on 127.0.0.1 and
  prints its address with a random token (new at each start); nothing is served without it. Ctrl-C stops it.
  --port P    port (default 0: a free one)
  --host H    address to listen on (default 127.0.0.1; another address exposes your runs)`,
  plot: `usage: roborl plot <runs…> [--metric M] --out FIG.svg|FIG.png [--title T]
  Publication-style curves: per config name (the seeds of one method), the mean over seeds and
  a 95% percentile-bootstrap CI band. Run folders or folders of them.
  --metric M   return (default), success, cost:NAME, or TYPE.FIELD from metrics.jsonl
               (episode.return, train.alpha, episode.human.rate, …)
  --out FILE   .svg (Vega-Lite) or .png (rendered by resvg)`,
  compare: `usage: roborl compare <runs-A…> -- <runs-B…> [--metric M] [--at STEPS | --allow-unequal] [--n N] [--K K] [--alpha A] [--json FILE] [--seed S]
  Is A better than B? AdaStop (Mathieu et al. 2023): a sequential permutation test over the
  seeds' scores, taken N seeds per agent at a time (in seed order), deciding as early as the
  evidence allows with the chance of a false difference held at alpha. Prints A better, B
  better, not different, or need more seeds (and how many), with each side's mean, 95%
  bootstrap CI and interquartile mean, and writes it all as JSON.
  --metric M    as for plot (default return; costs and losses: lower is better)
  --at STEPS    each run's value at this step (default: its last); a run that never
                reached STEPS is refused
  --allow-unequal  without --at, compare runs of different lengths (refused by default:
                a run cut short scores an earlier policy)
  --n N         seeds per agent per interim (default 5)
  --K K         most interims (default 5: at most N·K seeds per agent)
  --alpha A     family-wise error (default 0.05)
  --json FILE   where to write the decision (default compare.json)
  --seed S      the random permutations' seed (default 0)`,
  render: `usage: roborl render <env-id> [--camera front|wrist] [--out frame.png] [--depth depth.png] [--size N] [--engine rapier|mujoco] [--seed S] [--steps N]
  Save one simulated camera frame as a PNG: what a pixel policy sees (issue 23).
  --camera NAME  front (before the table) or wrist (on panda_hand) (default front)
  --out FILE     the RGB frame (default frame.png)
  --depth FILE   also the depth image, greyscale, near = white
  --size N       width and height in pixels (default 64)
  --engine NAME  the task's physics engine (default: the task's)
  --seed S       the reset's seed (default 0)
  --steps N      run the task's scripted expert N steps first (default 0)`,
} as const;

export type CommandName = keyof typeof USAGE;

export const HELP = `roborl — reinforcement learning for robot control
(set ROBORL_DEBUG=1 to print stack traces with errors; roborl <command> --help for a command's flags)

commands:
  envs           list the registered environments
  run            run episodes with a random or scripted policy
  train          train from a config (or --resume a run)
  eval           evaluate a run's checkpoint on the simulator or a robot
  serve          a simulated robot behind rosbridge or a serial protocol
  record-demos   record demonstrations (the task's expert or a person) for RLPD configs
  teleop         drive the simulator or a robot by hand (keyboard, SpaceMouse, web page)
  classifier     train a success classifier to use as a learned reward
  learner        the learner of an actor/learner split over Redis
  actor          an actor of an actor/learner split over Redis (sim or robot)
  dashboard      a local web app: runs, live curves, the 3D scene, teleop
  plot           curves over seeds (mean and bootstrap CI) to SVG or PNG
  compare        AdaStop: is A better than B, with as few seeds as the evidence allows
  render         save a simulated camera's frame as a PNG

${Object.values(USAGE).join('\n\n')}
`;

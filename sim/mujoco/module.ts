import loadMujocoModule, { type MainModule } from '@mujoco/mujoco';

let loading: Promise<MainModule> | null = null;
let loaded: MainModule | null = null;

/**
 * Loads MuJoCo's official WebAssembly build (`@mujoco/mujoco`, single-threaded) once per process
 * (~0.2–0.4 s). `make()` of a task on the MuJoCo engine awaits this for the caller.
 */
export function loadMujoco(): Promise<MainModule> {
  loading ??= loadMujocoModule().then((m) => {
    loaded = m;
    return m;
  });
  return loading;
}

/** MuJoCo after {@link loadMujoco} resolved; throws a clear error if called too early. */
export function mujoco(): MainModule {
  if (!loaded) throw new Error('MuJoCo is not initialised: await loadMujoco() first');
  return loaded;
}

export type { MainModule as Mujoco };

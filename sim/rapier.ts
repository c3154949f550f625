import RAPIER from '@dimforge/rapier3d-simd-compat';

let loading: Promise<typeof RAPIER> | null = null;
let loaded = false;

/**
 * Loads the Rapier wasm module once per process. `make()` of a Rapier task awaits this for
 * the caller; code that builds worlds directly must await it first.
 */
export function loadRapier(): Promise<typeof RAPIER> {
  loading ??= RAPIER.init().then(() => {
    loaded = true;
    return RAPIER;
  });
  return loading;
}

/** Rapier after {@link loadRapier} resolved; throws a clear error if called too early. */
export function rapier(): typeof RAPIER {
  if (!loaded) throw new Error('Rapier is not initialised: await loadRapier() first');
  return RAPIER;
}

export type Rapier = typeof RAPIER;

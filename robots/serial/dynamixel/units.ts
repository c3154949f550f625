/** X-series units: 4096 position ticks per turn, centred at 2048; velocity in 0.229 rev/min. */
export const TICKS_PER_RAD = 4096 / (2 * Math.PI);
export const CENTER_TICKS = 2048;
export const RAD_PER_S_PER_VELOCITY_UNIT = (0.229 * 2 * Math.PI) / 60;

export function radToTicks(rad: number): number {
  return Math.round(CENTER_TICKS + rad * TICKS_PER_RAD);
}
export function ticksToRad(ticks: number): number {
  return (ticks - CENTER_TICKS) / TICKS_PER_RAD;
}
export function velocityUnitsToRadS(v: number): number {
  return v * RAD_PER_S_PER_VELOCITY_UNIT;
}
export function radSToVelocityUnits(w: number): number {
  return Math.round(w / RAD_PER_S_PER_VELOCITY_UNIT);
}

import { readFileSync } from 'node:fs';
import { parseUrdf } from './urdf/parse.js';
import type { UrdfRobot } from './urdf/types.js';

/** Robot descriptions shipped in `robots/descriptions/`. */
export const DESCRIPTIONS = ['pendulum', 'cartpole', 'reacher2d', 'panda'] as const;
export type DescriptionName = (typeof DESCRIPTIONS)[number];

const cache = new Map<DescriptionName, UrdfRobot>();

/** Path of a shipped URDF file. */
export function descriptionPath(name: DescriptionName): string {
  return new URL(`../robots/descriptions/${name}.urdf`, import.meta.url).pathname;
}

/** Parses (once) and returns a shipped robot description. */
export function loadDescription(name: DescriptionName): UrdfRobot {
  let robot = cache.get(name);
  if (!robot) {
    robot = parseUrdf(readFileSync(descriptionPath(name), 'utf8'));
    cache.set(name, robot);
  }
  return robot;
}

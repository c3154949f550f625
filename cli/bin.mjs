#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader (a runtime dependency), so `npx roborl` works
// from a clean `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');

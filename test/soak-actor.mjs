// A soak actor (test/soak-actor.ts) as a process or a worker thread: tsx's loader first.
import { register } from 'tsx/esm/api';

register();
await import('./soak-actor.ts');

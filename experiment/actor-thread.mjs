// An actor worker thread: tsx's loader first (the thread has its own module graph), then the actor.
import { register } from 'tsx/esm/api';

register();
await import('./actor-thread.ts');

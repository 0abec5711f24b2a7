// Entry of the snapshot thread: registers the TypeScript loader in this thread, then loads the
// handler (a worker thread does not inherit the main thread's loader hooks).
import { register } from 'tsx/esm/api';

register();
await import('./snapshot-thread.ts');

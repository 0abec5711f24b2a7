// Entry of the snapshot process: registers the TypeScript loader, then loads the handler.
import { register } from 'tsx/esm/api';

register();
await import('./snapshot-process.ts');

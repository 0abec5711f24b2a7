// The organisation subsystem: organisations and their API keys (tables.ts), and the owner's own
// organisation routes. Other subsystems and app.ts import it only through this file.
export { organisationRouter } from './router.ts';

// The access subsystem: sites, doors and access profiles (tables.ts) with their routes
// (sites/, doors/, profiles/) and the explanation of a door's decision (router.ts). Every write
// here goes through the entitlement change writer, so the doors hear of it.
export { accessRouter } from './router.ts';
export { doorsRouter } from './doors/router.ts';
export { accessProfilesRouter } from './profiles/router.ts';
export { sitesRouter } from './sites/router.ts';

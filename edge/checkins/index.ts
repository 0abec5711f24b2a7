// The check-ins subsystem: what the doors decided (check-ins) and what they raised (door alarms),
// uploaded by the agents and read by the owner.
export { alarmsRouter, checkinsRouter } from './router.ts';

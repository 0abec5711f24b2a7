// The devices subsystem: door agents from enrollment (enrollment/) through sync and heartbeats
// (sync/) to signed commands (commands/) and their broker identities (broker/). The devices'
// own routes are in router.ts. Node-only tools (broker/mosquitto-sync.ts) stay out of this index:
// it is loaded by the Worker.
export { devicesRouter } from './router.ts';
export { brokerRouter, requireBrokerSecret } from './broker/router.ts';
export { commandsRouter } from './commands/router.ts';
export { enrollExchangeRouter, enrollmentRouter } from './enrollment/router.ts';
export { deviceSyncRouter } from './sync/router.ts';

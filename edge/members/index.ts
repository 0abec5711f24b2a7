// The members subsystem: members, their credentials (cards, phones, PINs) and bookings (tables.ts),
// with the member routes (router.ts) and the credential routes (credentials/).
export { membersRouter } from './router.ts';
export { credentialsRouter } from './credentials/router.ts';

// Who is calling: the owner API's organisation keys and the door devices' tokens, checked as
// middleware before any route runs.
export { requireDeviceToken, requireOwnerKey } from './middleware.ts';

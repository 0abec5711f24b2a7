// Who is calling: the owner API's organisation keys and the door devices' tokens, checked as
// middleware before any route runs.
export { ownRead, requireDeviceToken, requireOwnerKey } from './middleware.ts';

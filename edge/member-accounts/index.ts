// Member accounts: members sign in to their own data with an emailed link or an SMS code, in a
// session of their own (the gg_member cookie) that reaches /v1/me and /me only. Depends on members'
// and billing's tables (read), notifications (the link or code goes through the outbox), limits and audit.
export { memberAccountsRouter } from './router.ts';
export { memberPagesRouter } from './pages.ts';

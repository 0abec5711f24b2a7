// Every D1 table, gathered from the subsystems that own them (each folder's tables.ts). drizzle-kit
// reads this file to generate migrations/ (`npm run db:generate`); drizzle(db, { schema }) takes it too.
export * from '../organisation/tables.ts';
export * from '../access/tables.ts';
export * from '../members/tables.ts';
export * from '../devices/tables.ts';
export * from '../checkins/tables.ts';
export * from '../entitlements/tables.ts';
export * from '../billing/tables.ts';
export * from '../payments/tables.ts';
export * from '../notifications/tables.ts';
export * from '../dunning/tables.ts';
export * from '../audit/tables.ts';
export * from '../limits/tables.ts';
export * from '../staff/tables.ts';
export * from '../member-accounts/tables.ts';

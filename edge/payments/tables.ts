// Tables of payments: the simulated processor keeps its state here, as Stripe keeps its own.
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** State of the simulated card processor (PAYMENT_PROVIDER=simulated): its SimulatedStore. */
export const simulatedProcessorRecords = sqliteTable('simulated_processor_records', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

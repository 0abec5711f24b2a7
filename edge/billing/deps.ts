// What billing work needs, whether it runs in a request, the queue consumer or a test: the
// database, the bindings, somewhere to leave work for after the response, and the payment provider.
import { sql } from 'drizzle-orm';
import { simulatedProcessorRecords } from '../db/schema.ts';
import type { Db, Env } from '../env.ts';
import { createPaymentProvider, type PaymentProvider, type SimulatedProvider, type SimulatedStore } from '../payments/index.ts';

export type BillingDeps = {
  db: Db;
  env: Env;
  ctx: { waitUntil(promise: Promise<unknown>): void };
};

/** The shape writeWithChanges (edge/entitlements/changes.ts) expects. */
export const changeContext = (deps: BillingDeps) => ({ var: { db: deps.db }, env: deps.env, executionCtx: deps.ctx });

/** The simulated processor keeps its state in D1, so it survives between requests like Stripe's does. */
export function d1SimulatedStore(db: Db): SimulatedStore {
  return {
    async get(key) {
      const [row] = await db.select({ value: simulatedProcessorRecords.value }).from(simulatedProcessorRecords).where(sql`${simulatedProcessorRecords.key} = ${key}`);
      return row?.value ?? null;
    },
    async put(key, value) {
      await db
        .insert(simulatedProcessorRecords)
        .values({ key, value })
        .onConflictDoUpdate({ target: simulatedProcessorRecords.key, set: { value } });
    },
    // A JSON array as the one bound parameter: any number of keys in one statement.
    async getMany(keys) {
      const rows = await db.all<{ key: string; value: string }>(
        sql`SELECT key, value FROM simulated_processor_records WHERE key IN (SELECT value FROM json_each(${JSON.stringify(keys)}))`,
      );
      return new Map(rows.map((r) => [r.key, r.value]));
    },
    async putMany(entries) {
      await db.run(sql`INSERT INTO simulated_processor_records (key, value)
        SELECT value ->> 0, value ->> 1 FROM json_each(${JSON.stringify(entries)}) WHERE true
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    },
  };
}

/**
 * PAYMENT_PROVIDER picks the processor: "stripe" (STRIPE_SECRET_KEY, and STRIPE_API_BASE in tests)
 * or "simulated". Unset: Stripe when a key is configured, else the simulation.
 */
export function paymentProvider(deps: Pick<BillingDeps, 'db' | 'env'>): PaymentProvider | SimulatedProvider {
  const { env } = deps;
  return createPaymentProvider(
    { PAYMENTS_PROVIDER: env.PAYMENT_PROVIDER, STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY, STRIPE_API_BASE: env.STRIPE_API_BASE },
    { simulatedStore: d1SimulatedStore(deps.db) },
  );
}

export const isSimulated = (p: PaymentProvider | SimulatedProvider): p is SimulatedProvider => p.name === 'simulated';

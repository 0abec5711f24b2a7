import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { createdAt, type JsonValue } from '../db/columns.ts';
import { members } from '../members/tables.ts';
import { organisationRef, organisations } from '../organisation/tables.ts';

// Dunning (edge/dunning): each organisation's policy, the log of what dunning did (notes, cases,
// recoveries, end of line; the metrics are counted from it), invoices handed to collections, and
// the single-invoice links of pay-now notices.
export const dunningPolicies = sqliteTable('dunning_policies', {
  organisationId: text('organisation_id')
    .primaryKey()
    .references(() => organisations.id),
  /** A DunningPolicy (core/billing/dunning.ts), complete. */
  policy: text('policy', { mode: 'json' }).$type<JsonValue>().notNull(),
  /** Origin members' pay-now and card links point to, e.g. https://pay.gym.example (null: the Worker's PUBLIC_BASE_URL). */
  payLinkBase: text('pay_link_base'),
  updatedAt: integer('updated_at').notNull(),
});

/** DunningState per payer (core/billing/dunning.ts); its actions are not run yet. */
export const dunningStates = sqliteTable('dunning_states', {
  payerId: text('payer_id')
    .primaryKey()
    .references(() => members.id),
  organisationId: organisationRef(),
  state: text('state', { mode: 'json' }).$type<JsonValue>().notNull(),
  nextWakeAt: integer('next_wake_at'),
  version: integer('version').notNull().default(0),
  updatedAt: integer('updated_at').notNull(),
});

export const DUNNING_LOG_TYPES = ['case_opened', 'retry', 'recovered', 'suspended', 'restored', 'end_of_line', 'paused', 'resumed', 'excluded', 'included'] as const;

export const dunningLog = sqliteTable(
  'dunning_log',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    type: text('type', { enum: DUNNING_LOG_TYPES }).notNull(),
    invoiceNumber: text('invoice_number'),
    /** Minor units: owed when a case opens, recovered when it closes. */
    amount: integer('amount'),
    currency: text('currency'),
    detail: text('detail'),
    /** Staff note (pause, exclusion). */
    note: text('note'),
    at: integer('at').notNull(),
  },
  (t) => [index('dunning_log_org_at').on(t.organisationId, t.at), index('dunning_log_payer').on(t.payerId, t.at)],
);

export const dunningCollections = sqliteTable(
  'dunning_collections',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    invoiceId: text('invoice_id').notNull(),
    invoiceNumber: text('invoice_number'),
    amount: integer('amount').notNull(),
    currency: text('currency').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('dunning_collections_invoice').on(t.invoiceId), index('dunning_collections_org').on(t.organisationId, t.createdAt)],
);

export const dunningPayLinks = sqliteTable(
  'dunning_pay_links',
  {
    /** SHA-256 (hex) of the random token in the link; the token itself is not stored. */
    tokenHash: text('token_hash').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    invoiceId: text('invoice_id').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('dunning_pay_links_invoice').on(t.invoiceId)],
);

/** Links of card notices (/card/{token}): one member adds or replaces the card billing charges. */
export const cardUpdateLinks = sqliteTable(
  'card_update_links',
  {
    /** SHA-256 (hex) of the random token in the link; the token itself is not stored. */
    tokenHash: text('token_hash').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    expiresAt: integer('expires_at').notNull(),
    /** When a card was saved through the link; it is then used up. */
    usedAt: integer('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('card_update_links_member').on(t.memberId)],
);

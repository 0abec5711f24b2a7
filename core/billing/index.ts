// Membership billing: pure rules the Worker stores and calls (the door never needs them).
//
// What the Worker keeps (per organisation unless said otherwise):
// - currency, tax rates (TaxRate), invoice prefix and two gap-free sequences (invoices, credit notes),
//   dunning policy (DunningPolicy; its graceDays should equal the plans' terms.graceDays);
// - per subscription: SubscriptionState as JSON (payer, members, plan price, interval, anchor,
//   paid-through, freeze, cancellation, terms) and the events applied, in date order;
// - pending items (PendingItem) until an invoice takes them, proration lines of a downgrade
//   until the next invoice;
// - invoices (Invoice: status, number, lines with net/tax/total, totals, credit applied, paid,
//   credited, timestamps), credit notes (CreditNote), payments (Payment) and refunds (Refund),
//   from which buildLedger derives the member's balance and statement;
// - per payer: DunningState, and the next wake-up time it returns.
export * from './money.ts';
export * from './tax.ts';
export * from './periods.ts';
export * from './proration.ts';
export * from './invoice.ts';
export * from './credit-notes.ts';
export * from './subscription.ts';
export * from './ledger.ts';
export * from './dunning.ts';
export * from './result.ts';

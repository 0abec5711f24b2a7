// The billing subsystem: plans, subscriptions, invoices, credit notes, payments and refunds
// (tables.ts), the billing run (queue.ts) and the owner's billing routes (api/). It charges
// through payments and tells dunning about outcomes only through the port in dunning-port.ts.
export { completeSimulatedSetup, saveSetUpCard, startCardSetup } from './cards.ts';
export { changeContext, isSimulated, paymentProvider, type BillingDeps } from './deps.ts';
export { afterInvoiceChange, markUncollectible } from './documents.ts';
export { connectDunning, type DunningPort, type PayerEvent } from './dunning-port.ts';
export { chargeInvoice, chargeKey, nextAttempt, outcomeResult, recordPaymentResult } from './invoices.ts';
export { consumeBillingMessages, enqueueBillingRun, runBilling, type BillingMessage } from './queue.ts';
export { loadInvoice, memberLedger, type InvoiceRow, type PaymentRow } from './records.ts';
export { billingRouters } from './router.ts';
export { actOnSubscription, SubscriptionRefused } from './subscriptions.ts';

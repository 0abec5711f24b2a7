// HTML of the update-card page (/card/{token}, see ./card-page.ts), in the pay-now page's layout
// and with its security headers (./pay-page-html.ts): links that cannot be used, the card step
// (Stripe's Payment Element in setup mode, or the simulated processor's test cards) and what
// became of the member's open invoices once the card was saved. Words come from ./page-copy.ts.
import { SIMULATED_PAY_NOW_OUTCOMES, SIMULATED_TEST_CARDS } from '../payments/index.ts';
import type { PageCopy } from './page-copy.ts';
import type { View } from './page-locale.ts';
import { esc, page, simulationNotice, stripeElement } from './pay-page-html.ts';

export const cardGone = (v: View, reason: keyof PageCopy['cardGone']) => {
  const [title, text] = v.t.cardGone[reason];
  return page(v, title, `<p>${esc(text)}</p>`, { status: reason === 'unknown' ? 404 : 410 });
};

type Card = { brand: string | null; last4: string | null };
export type CardShown = { gymName: string; memberName: string; card: Card | null };

const header = (v: View, s: CardShown) => `<p>${esc(s.memberName)}</p>
<p class="current-card">${esc(s.card?.last4 ? v.t.card.onFile(v.t.card.describe(s.card)) : v.t.card.noneOnFile)}</p>
<p>${esc(v.t.card.explain)}</p>`;

/** Stripe: the Payment Element for the link's SetupIntent; confirmSetup sends the member to the return URL. */
export function stripeCardStep(v: View, s: CardShown, setup: { setupIntentId: string; clientSecret: string }, publishableKey: string, returnUrl: string, lastError: string | null) {
  const box = `<div id="payment" data-setup-intent="${esc(setup.setupIntentId)}" data-client-secret="${esc(setup.clientSecret)}" data-publishable-key="${esc(publishableKey)}" data-return-url="${esc(returnUrl)}"></div>`;
  const element = stripeElement(v, box, 'confirmSetup', v.t.card.save, v.t.card.notSaved);
  const error = lastError ? `<p class="error" role="alert">${esc(v.t.card.lastTry(lastError))}</p>` : '';
  return page(v, v.t.card.title(s.gymName), `${header(v, s)}<p>${esc(v.t.card.enterNew)}</p>${error}\n${element.html}`, { stripeNonce: element.nonce });
}

/** The test cards the simulated page offers, one per outcome its charges will have. */
export const SIMULATED_CARD_CHOICES = SIMULATED_PAY_NOW_OUTCOMES.map((o) => {
  const card = SIMULATED_TEST_CARDS[o.paymentMethodId];
  return { paymentMethodId: o.paymentMethodId, outcome: o.outcome, label: o.label, card: { brand: card?.brand ?? null, last4: card?.last4 ?? '0000' } };
});

/** The simulated processor: the member picks a test card, which decides how charges to it go. */
export function simulatedCardStep(v: View, s: CardShown, token: string) {
  const buttons = SIMULATED_CARD_CHOICES.map(
    (c) => `<button name="card" value="${esc(c.paymentMethodId)}">${esc(v.t.card.choice(v.t.card.describe(c.card), v.t.pay.outcomes[c.outcome] ?? c.label))}</button>`,
  ).join('');
  return page(v, v.t.card.title(s.gymName), `${header(v, s)}${simulationNotice(v, v.t.simulation.card)}
<form method="post" action="/card/${esc(token)}/simulate">${buttons}</form>`);
}

export type InvoiceOutcome = { number: string; amount: number; currency: string; paid: boolean; failure: string | null; declineCode: string | null };

/** The card is saved: which invoices it paid straight away and which are still open. */
export function cardSavedPage(v: View, s: CardShown, card: Card, invoices: InvoiceOutcome[]) {
  const [title, text] = v.t.card.saved;
  const lines = invoices.map((i) => {
    const amount = v.t.money(i.amount, i.currency);
    if (i.paid) return `<p class="invoice" data-status="paid">${esc(v.t.card.invoicePaid(i.number, amount))}</p>`;
    const why = i.failure === null ? null : (v.t.declineReason(i.declineCode) ?? i.failure);
    return `<p class="invoice" data-status="open">${esc(v.t.card.invoiceOpen(i.number, amount, why))}</p>`;
  });
  return page(
    v,
    title,
    `<p class="outcome" data-status="saved">${esc(text(s.memberName, card.last4 ? v.t.card.describe(card) : null))}</p>${lines.join('') || `<p class="invoice">${esc(v.t.card.nothingLeft)}</p>`}`,
  );
}

export const cardProcessingPage = (v: View) => page(v, v.t.card.processing[0], `<p class="outcome" data-status="processing">${esc(v.t.card.processing[1])}</p>`);

export const cardFailedPage = (v: View, message: string | null, token: string) =>
  page(
    v,
    v.t.card.failed[0],
    `<p class="outcome" data-status="failed">${esc(message ?? v.t.card.notSaved)}</p><p>${esc(v.t.card.failed[1])}</p><p><a href="/card/${esc(token)}">${esc(v.t.card.tryAgain)}</a></p>`,
  );

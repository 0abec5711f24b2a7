// HTML of the update-card page (/card/{token}, see ./card-page.ts), in the pay-now page's layout
// and with its security headers (./pay-page-html.ts): links that cannot be used, the card step
// (Stripe's Payment Element in setup mode, or the simulated processor's test cards) and what
// became of the member's open invoices once the card was saved.
import { SIMULATED_PAY_NOW_OUTCOMES, SIMULATED_TEST_CARDS } from '../payments/simulated.ts';
import { esc, money, page, stripeElement } from './pay-page-html.ts';

const CARD_GONE: Record<'unknown' | 'expired' | 'used', [string, string]> = {
  unknown: ['Link not valid', 'This card link is not valid. Your card was not changed. Please use the latest message from your gym, or ask at the front desk.'],
  expired: ['Link expired', 'This card link has expired. Your card was not changed. Your gym will send you a new link, or you can update your card at the front desk.'],
  used: ['Link already used', 'A card has already been saved with this link. Your card was not changed again.'],
};
export const cardGone = (reason: keyof typeof CARD_GONE) => page(CARD_GONE[reason][0], `<p>${esc(CARD_GONE[reason][1])}</p>`, { status: reason === 'unknown' ? 404 : 410 });

type Card = { brand: string | null; last4: string | null };
export type CardShown = { gymName: string; memberName: string; card: Card | null };

const brandName = (brand: string | null) => (brand ? brand.charAt(0).toUpperCase() + brand.slice(1) : 'Card');
const describe = (card: Card) => (card.last4 ? `${brandName(card.brand)} ending ${card.last4}` : brandName(card.brand));

const header = (s: CardShown) => `<p>${esc(s.memberName)}</p>
<p class="current-card">${s.card?.last4 ? `Card on file: ${esc(describe(s.card))}.` : 'No card on file.'}</p>
<p>The card you save here pays for your membership from now on; anything still owed is charged to it straight away.</p>`;

const title = (s: CardShown) => `Update your card for ${s.gymName}`;

/** Stripe: the Payment Element for the link's SetupIntent; confirmSetup sends the member to the return URL. */
export function stripeCardStep(s: CardShown, setup: { setupIntentId: string; clientSecret: string }, publishableKey: string, returnUrl: string, lastError: string | null) {
  const box = `<div id="payment" data-setup-intent="${esc(setup.setupIntentId)}" data-client-secret="${esc(setup.clientSecret)}" data-publishable-key="${esc(publishableKey)}" data-return-url="${esc(returnUrl)}"></div>`;
  const element = stripeElement(box, 'confirmSetup', 'Save card', 'The card could not be saved.');
  const error = lastError ? `<p class="error" role="alert">Last try: ${esc(lastError)} Your card was not changed; you can try again.</p>` : '';
  return page(title(s), `${header(s)}<p>Enter your new card's details.</p>${error}\n${element.html}`, { stripeNonce: element.nonce });
}

/** The test cards the simulated page offers, one per outcome its charges will have. */
export const SIMULATED_CARD_CHOICES = SIMULATED_PAY_NOW_OUTCOMES.map((o) => {
  const card = SIMULATED_TEST_CARDS[o.paymentMethodId];
  return { paymentMethodId: o.paymentMethodId, label: `${brandName(card?.brand ?? null)} ending ${card?.last4 ?? '0000'}: ${o.label.toLowerCase()}` };
});

/** The simulated processor: the member picks a test card, which decides how charges to it go. */
export function simulatedCardStep(s: CardShown, token: string) {
  const buttons = SIMULATED_CARD_CHOICES.map((c) => `<button name="card" value="${esc(c.paymentMethodId)}">${esc(c.label)}</button>`).join('');
  return page(
    title(s),
    `${header(s)}<p class="simulation"><strong>Simulation.</strong> This gym uses gymgate's simulated payment processor: no money moves and no real card is saved. Choose a test card; it decides what the bank answers when it is charged.</p>
<form method="post" action="/card/${esc(token)}/simulate">${buttons}</form>`,
  );
}

export type InvoiceOutcome = { number: string; amount: number; currency: string; paid: boolean; failure: string | null };

/** The card is saved: which invoices it paid straight away and which are still open. */
export function cardSavedPage(s: CardShown, card: Card, invoices: InvoiceOutcome[]) {
  const saved = card.last4 ? `Your ${esc(describe(card))} is saved` : 'Your new card is saved';
  const lines = invoices.map((i) =>
    i.paid
      ? `<p class="invoice" data-status="paid">Invoice ${esc(i.number)} (${esc(money(i.amount, i.currency))}) is paid with this card.</p>`
      : `<p class="invoice" data-status="open">Invoice ${esc(i.number)} (${esc(money(i.amount, i.currency))}) is still open: ${esc(i.failure ?? 'it has not been paid yet.')} Your gym will let you know how to pay it.</p>`,
  );
  return page(
    'Card saved',
    `<p class="outcome" data-status="saved">Thank you, ${esc(s.memberName)}. ${saved}; your membership is charged to it from now on.</p>${lines.join('') || '<p class="invoice">Nothing is left to pay.</p>'}`,
  );
}

export const cardProcessingPage = () => page('Card being confirmed', '<p class="outcome" data-status="processing">Your bank is still confirming the card. It becomes your membership card as soon as it is confirmed; there is nothing more to do.</p>');

export const cardFailedPage = (message: string | null, token: string) =>
  page(
    'Card not saved',
    `<p class="outcome" data-status="failed">${esc(message ?? 'The card could not be saved.')}</p><p>Your card was not changed.</p><p><a href="/card/${esc(token)}">Try again</a></p>`,
  );

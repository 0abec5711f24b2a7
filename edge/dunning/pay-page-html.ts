// HTML of the pay-now page (/pay/{token}, see ./pay-page.ts): the layout with its security headers,
// the pages of links that cannot be paid, the payment step (Stripe's Payment Element, or the
// simulated processor's test outcomes) and the outcome shown afterwards.
import { formatMoney, isCurrency } from '../../core/billing/money.ts';
import type { ChargeOutcome } from '../payments/provider.ts';
import { SIMULATED_PAY_NOW_OUTCOMES } from '../payments/simulated.ts';

export const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export const money = (amount: number, currency: string) => (isCurrency(currency) ? formatMoney(amount, currency, 'en') : `${currency} ${amount}`);

/** Where Stripe.js lives; the only origin the page loads script from. */
const STRIPE_JS = 'https://js.stripe.com/v3/';

// Nothing but our own inline style and, on the Stripe step, Stripe.js with its frames: Stripe's own
// CSP guidance lists js.stripe.com (script, frames), hooks.stripe.com (3-D Secure frames) and
// api.stripe.com (its calls). The one inline script carries a per-response nonce.
function contentSecurityPolicy(stripeNonce: string | null): string {
  const base = ["default-src 'none'", "style-src 'unsafe-inline'", "img-src 'self' data:", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"];
  if (!stripeNonce) return base.join('; ');
  return [...base, `script-src 'nonce-${stripeNonce}' https://js.stripe.com`, 'frame-src https://js.stripe.com https://hooks.stripe.com', 'connect-src https://api.stripe.com'].join('; ');
}

export function page(title: string, body: string, options: { status?: number; stripeNonce?: string; head?: string } = {}) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}.amount{font-size:2rem;font-weight:600}button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem 0;width:100%}.simulation{background:#fff3cd;border:1px solid #e0c36c;padding:.75rem 1rem;border-radius:4px}.error{color:#a00}#payment-element{margin:1rem 0}</style>
${options.head ?? ''}</head><body><h1>${esc(title)}</h1>${body}</body></html>`;
  return new Response(html, {
    status: options.status ?? 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'content-security-policy': contentSecurityPolicy(options.stripeNonce ?? null),
    },
  });
}

const GONE: Record<'unknown' | 'expired' | 'used' | 'settled', [string, string]> = {
  unknown: ['Link not valid', 'This payment link is not valid. Please use the latest message from your gym, or ask at the front desk.'],
  expired: ['Link expired', 'This payment link has expired. Nothing was charged. Your gym will send you a new link, or you can pay at the front desk.'],
  used: ['Link already used', 'This payment link has already been used. Nothing more was charged.'],
  settled: ['Nothing to pay', 'This invoice has nothing left to pay. Thank you!'],
};
export const gone = (reason: keyof typeof GONE) => page(GONE[reason][0], `<p>${esc(GONE[reason][1])}</p>`, { status: reason === 'unknown' ? 404 : 410 });

export type Shown = { gymName: string; memberName: string; invoiceNumber: string; amount: number; currency: string };

const header = (s: Shown) => `<p>${esc(s.memberName)}, invoice ${esc(s.invoiceNumber)}</p>
<p class="amount">${esc(money(s.amount, s.currency))}</p>`;

export function choicePage(s: Shown, options: { promptpay: boolean; online: boolean }) {
  if (!options.online) return page(`Pay ${s.gymName}`, `${header(s)}<p>Online payment is not available right now. Nothing was charged; please pay at the front desk.</p>`);
  const promptpay = options.promptpay ? `<button name="method" value="promptpay">Pay with PromptPay</button>` : '';
  return page(`Pay ${s.gymName}`, `${header(s)}<form method="post"><button name="method" value="card">Pay by card</button>${promptpay}</form>`);
}

export type Step = { token: string; paymentIntentId: string; clientSecret: string; method: 'card' | 'promptpay'; lastTry: ChargeOutcome | null };

const lastTry = (o: ChargeOutcome | null) => (o && (o.status === 'failed' || o.status === 'requires_action') ? `<p class="error" role="alert">Last try: ${esc(reason(o))} Nothing was charged; you can try again.</p>` : '');

const paymentBox = (st: Step, extra = '') =>
  `<div id="payment" data-payment-intent="${esc(st.paymentIntentId)}" data-client-secret="${esc(st.clientSecret)}" data-method="${st.method}"${extra}></div>`;

/**
 * Stripe.js's Payment Element in the form under `box` (an element with id "payment" carrying the
 * client secret, publishable key and return URL as data attributes). `confirm` is the Stripe.js
 * call that finishes it (confirmPayment, or confirmSetup to save a card) and sends the member to
 * the return URL; a decline or an incomplete form stays on the page with Stripe's message.
 */
export function stripeElement(box: string, confirm: 'confirmPayment' | 'confirmSetup', button: string, fallback: string): { html: string; nonce: string } {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const script = `(() => {
  const box = document.getElementById('payment');
  const form = document.getElementById('pay-form');
  const error = document.getElementById('pay-error');
  const button = form.querySelector('button');
  if (typeof Stripe !== 'function') { error.textContent = 'The form could not be loaded. Nothing was charged; please reload the page.'; button.disabled = true; return; }
  const stripe = Stripe(box.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: box.dataset.clientSecret });
  elements.create('payment').mount('#payment-element');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = '';
    const result = await stripe.${confirm}({ elements, confirmParams: { return_url: box.dataset.returnUrl } });
    // Only reached when Stripe did not send the member on (a decline, an incomplete form).
    if (result.error) error.textContent = result.error.message || ${JSON.stringify(fallback)};
    button.disabled = false;
  });
})();`;
  const html = `${box}
<form id="pay-form"><div id="payment-element"></div><button type="submit">${esc(button)}</button><p id="pay-error" class="error" role="alert"></p></form>
<script src="${STRIPE_JS}"></script><script nonce="${nonce}">${script}</script>`;
  return { html, nonce };
}

/** Stripe: the Payment Element for this intent; confirmPayment sends the member to the return URL. */
export function stripeStep(s: Shown, st: Step, publishableKey: string, returnUrl: string) {
  const how = st.method === 'promptpay' ? 'Pay, then scan the PromptPay QR code with your banking app.' : 'Enter your card details.';
  const box = paymentBox(st, ` data-publishable-key="${esc(publishableKey)}" data-return-url="${esc(returnUrl)}"`);
  const element = stripeElement(box, 'confirmPayment', `Pay ${money(s.amount, s.currency)}`, 'The payment did not go through.');
  return page(`Pay ${s.gymName}`, `${header(s)}<p>${how}</p>${lastTry(st.lastTry)}\n${element.html}`, { stripeNonce: element.nonce });
}

/** The simulated processor: the member picks which test outcome the "bank" answers. */
export function simulatedStep(s: Shown, st: Step) {
  const buttons =
    st.method === 'promptpay'
      ? `<button name="outcome" value="success">Simulate scanning the PromptPay QR code</button>`
      : SIMULATED_PAY_NOW_OUTCOMES.map((o) => `<button name="outcome" value="${o.outcome}">${esc(o.label)}</button>`).join('');
  return page(
    `Pay ${s.gymName}`,
    `${header(s)}<p class="simulation"><strong>Simulation.</strong> This gym uses gymgate's simulated payment processor: no money moves and no card or bank account is charged. Choose what the bank answers.</p>${lastTry(st.lastTry)}
${paymentBox(st)}
<form method="post" action="/pay/${esc(st.token)}/simulate">${buttons}</form>`,
  );
}

/** What the processor said about a decline, in the member's words where it gave some. */
function reason(o: ChargeOutcome): string {
  if (o.status === 'requires_action') return 'Your bank asks you to confirm this payment.';
  return o.failureMessage && !o.failureMessage.startsWith('The payment ended in status') ? o.failureMessage : 'The payment was declined.';
}

export function outcomePage(s: Shown, o: ChargeOutcome, token: string) {
  const status = `data-status="${o.status}"`;
  const again = `<p><a href="/pay/${esc(token)}">Try again</a></p>`;
  switch (o.status) {
    case 'succeeded':
      return page('Payment received', `<p class="outcome" ${status}>Thank you, ${esc(s.memberName)}. Invoice ${esc(s.invoiceNumber)} (${esc(money(s.amount, s.currency))}) is paid.</p>`);
    case 'processing':
      return page('Payment processing', `<p class="outcome" ${status}>Your payment of ${esc(money(s.amount, s.currency))} is being processed. Your gym will let you know when it has arrived.</p>`);
    case 'requires_action':
      return page('Payment not completed', `<p class="outcome" ${status}>${esc(reason(o))} Nothing was charged.</p>${again}`);
    case 'failed':
      return page('Payment declined', `<p class="outcome" ${status}>${esc(reason(o))}</p><p>Nothing was charged. The invoice is still open.</p>${again}`);
  }
}

export const notice = (title: string, text: string, status: number) => page(title, `<p>${esc(text)}</p>`, { status });

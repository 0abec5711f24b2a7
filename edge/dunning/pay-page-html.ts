// HTML of the pay-now page (/pay/{token}, see ./pay-page.ts): the layout with its security headers,
// the pages of links that cannot be paid, the payment step (Stripe's Payment Element, or the
// simulated processor's test outcomes) and the outcome shown afterwards.
import { type ChargeOutcome, SIMULATED_PAY_NOW_OUTCOMES } from '../payments/index.ts';
import { PAGE_LOCALES, type NoticeKey } from './page-copy.ts';
import type { View } from './page-locale.ts';

export const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

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

/** Links to this page in each language, the current one marked. */
function languageSwitch(v: View): string {
  const sep = v.here.includes('?') ? '&' : '?';
  const links = PAGE_LOCALES.map(
    (l) => `<a href="${esc(`${v.here}${sep}lang=${l}`)}" lang="${l}" hreflang="${l}"${l === v.t.locale ? ' aria-current="page"' : ''}>${esc(v.t.languageNames[l])}</a>`,
  );
  return `<nav class="language" aria-label="${esc(v.t.language)}">${links.join(' · ')}</nav>`;
}

export function page(v: View, title: string, body: string, options: { status?: number; stripeNonce?: string; head?: string } = {}) {
  const html = `<!doctype html><html lang="${v.t.locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:1.5rem auto 3rem;padding:0 1rem;color:#222;overflow-wrap:anywhere}h1{font-size:1.4rem}.amount{font-size:2rem;font-weight:600}button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem 0;width:100%}.simulation{background:#fff3cd;border:1px solid #e0c36c;padding:.75rem 1rem;border-radius:4px}.error{color:#a00}#payment-element{margin:1rem 0}.language{text-align:right;font-size:.95rem}.language a{color:#0645ad;padding:.4rem .2rem;display:inline-block}.language a[aria-current]{color:#222;font-weight:600;text-decoration:none}</style>
${options.head ?? ''}</head><body>${languageSwitch(v)}<main><h1>${esc(title)}</h1>${body}</main></body></html>`;
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

export const gone = (v: View, reason: keyof View['t']['payGone']) => {
  const [title, text] = v.t.payGone[reason];
  return page(v, title, `<p>${esc(text)}</p>`, { status: reason === 'unknown' ? 404 : 410 });
};

export type Shown = { gymName: string; memberName: string; invoiceNumber: string; amount: number; currency: string };

const header = (v: View, s: Shown) => `<p>${esc(v.t.pay.invoiceOf(s.memberName, s.invoiceNumber))}</p>
<p class="amount">${esc(v.t.money(s.amount, s.currency))}</p>`;

export function choicePage(v: View, s: Shown, options: { promptpay: boolean; online: boolean }) {
  const title = v.t.pay.title(s.gymName);
  if (!options.online) return page(v, title, `${header(v, s)}<p>${esc(v.t.pay.offline)}</p>`);
  const promptpay = options.promptpay ? `<button name="method" value="promptpay">${esc(v.t.pay.byPromptPay)}</button>` : '';
  return page(v, title, `${header(v, s)}<form method="post"><button name="method" value="card">${esc(v.t.pay.byCard)}</button>${promptpay}</form>`);
}

export type Step = { token: string; paymentIntentId: string; clientSecret: string; method: 'card' | 'promptpay'; lastTry: ChargeOutcome | null };

const lastTry = (v: View, o: ChargeOutcome | null) =>
  o && (o.status === 'failed' || o.status === 'requires_action') ? `<p class="error" role="alert">${esc(v.t.pay.lastTry(reason(v, o)))}</p>` : '';

const paymentBox = (st: Step, extra = '') =>
  `<div id="payment" data-payment-intent="${esc(st.paymentIntentId)}" data-client-secret="${esc(st.clientSecret)}" data-method="${st.method}"${extra}></div>`;

/**
 * Stripe.js's Payment Element in the form under `box` (an element with id "payment" carrying the
 * client secret, publishable key and return URL as data attributes), in the page's language.
 * `confirm` is the Stripe.js call that finishes it (confirmPayment, or confirmSetup to save a card)
 * and sends the member to the return URL; a decline or an incomplete form stays on the page with
 * Stripe's message.
 */
export function stripeElement(v: View, box: string, confirm: 'confirmPayment' | 'confirmSetup', button: string, fallback: string): { html: string; nonce: string } {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const script = `(() => {
  const box = document.getElementById('payment');
  const form = document.getElementById('pay-form');
  const error = document.getElementById('pay-error');
  const button = form.querySelector('button');
  if (typeof Stripe !== 'function') { error.textContent = ${JSON.stringify(v.t.pay.scriptMissing)}; button.disabled = true; return; }
  const stripe = Stripe(box.dataset.publishableKey, { locale: ${JSON.stringify(v.t.stripeLocale)} });
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
export function stripeStep(v: View, s: Shown, st: Step, publishableKey: string, returnUrl: string) {
  const how = st.method === 'promptpay' ? v.t.pay.scanPromptPay : v.t.pay.enterCard;
  const box = paymentBox(st, ` data-publishable-key="${esc(publishableKey)}" data-return-url="${esc(returnUrl)}"`);
  const element = stripeElement(v, box, 'confirmPayment', v.t.pay.payButton(v.t.money(s.amount, s.currency)), v.t.pay.notThrough);
  return page(v, v.t.pay.title(s.gymName), `${header(v, s)}<p>${esc(how)}</p>${lastTry(v, st.lastTry)}\n${element.html}`, { stripeNonce: element.nonce });
}

/** The simulation notice: no money moves, whatever the member picks. */
export const simulationNotice = (v: View, text: string) => `<p class="simulation"><strong>${esc(v.t.simulation.label)}</strong> ${esc(text)}</p>`;

/** The simulated processor: the member picks which test outcome the "bank" answers. */
export function simulatedStep(v: View, s: Shown, st: Step) {
  const buttons =
    st.method === 'promptpay'
      ? `<button name="outcome" value="success">${esc(v.t.pay.simulateScan)}</button>`
      : SIMULATED_PAY_NOW_OUTCOMES.map((o) => `<button name="outcome" value="${o.outcome}">${esc(v.t.pay.outcomes[o.outcome] ?? o.label)}</button>`).join('');
  return page(
    v,
    v.t.pay.title(s.gymName),
    `${header(v, s)}${simulationNotice(v, v.t.simulation.pay)}${lastTry(v, st.lastTry)}
${paymentBox(st)}
<form method="post" action="/pay/${esc(st.token)}/simulate">${buttons}</form>`,
  );
}

/** What the processor said about a decline, in the member's words and language. */
function reason(v: View, o: ChargeOutcome): string {
  if (o.status === 'requires_action') return v.t.pay.needsAction;
  const own = v.t.declineReason(o.declineCode ?? o.failureCode);
  if (own) return own;
  return o.failureMessage && !o.failureMessage.startsWith('The payment ended in status') ? o.failureMessage : v.t.pay.declined;
}

export function outcomePage(v: View, s: Shown, o: ChargeOutcome, token: string) {
  const status = `data-status="${o.status}"`;
  const again = `<p><a href="/pay/${esc(token)}">${esc(v.t.pay.tryAgain)}</a></p>`;
  const amount = v.t.money(s.amount, s.currency);
  switch (o.status) {
    case 'succeeded': {
      const [title, text] = v.t.pay.received;
      return page(v, title, `<p class="outcome" ${status}>${esc(text(s.memberName, s.invoiceNumber, amount))}</p>`);
    }
    case 'processing': {
      const [title, text] = v.t.pay.processing;
      return page(v, title, `<p class="outcome" ${status}>${esc(text(amount))}</p>`);
    }
    case 'requires_action': {
      const [title, text] = v.t.pay.notCompleted;
      return page(v, title, `<p class="outcome" ${status}>${esc(text(reason(v, o)))}</p>${again}`);
    }
    case 'failed': {
      const [title, after] = v.t.pay.declinedOutcome;
      return page(v, title, `<p class="outcome" ${status}>${esc(reason(v, o))}</p><p>${esc(after)}</p>${again}`);
    }
  }
}

/** A page with one message on it, by what happened. */
export const notice = (v: View, key: NoticeKey, status: number) => {
  const [title, text] = v.t.notices[key];
  return page(v, title, `<p>${esc(text)}</p>`, { status });
};

// The member's pages: landing from the emailed sign-in link (/me/sign-in?token=…: a button, so a
// mail scanner that opens links does not use it up), asking for a link (/me/sign-in?gym=org_…), and
// /me: their invoices (their own and their family's where they pay). English and Thai.
import { Hono, type Context } from 'hono';
import { html } from 'hono/html';
import { formatMoney } from '../../core/billing/money.ts';
import type { AppEnv } from '../env.ts';
import { errorLine, htmlPage, pageLanguage, type PageLanguage, type PageStatus } from '../lib/html-page.ts';
import { ApiProblem } from '../lib/problem.ts';
import { invoicesPaidBy } from './router.ts';
import { endMemberSession, resolveMemberSession, startMemberSignIn, useMemberLink, type MemberSessionContext } from './sign-in.ts';

const WORDS = {
  en: {
    signInTitle: 'Member sign-in',
    linkIntro: 'Press the button to sign in. The link works once.',
    signIn: 'Sign in',
    askIntro: 'We will email you a link to sign in.',
    email: 'Email',
    send: 'Email me a sign-in link',
    sent: 'If this email belongs to a member, a sign-in link is on its way. It works for 15 minutes.',
    noGym: 'Open the sign-in link from your email, or ask the front desk.',
    invoicesTitle: (gym: string) => `${gym}: your invoices`,
    // A name ending in an initial ("Somchai P.") ends the sentence itself.
    hello: (name: string) => `Signed in as ${name}${name.endsWith('.') ? '' : '.'}`,
    none: 'No invoices yet.',
    invoice: 'Invoice',
    period: 'Period',
    amount: 'Amount',
    status: 'Status',
    statuses: { open: 'to pay', paid: 'paid', void: 'void', uncollectible: 'unpaid' } as Record<string, string>,
    signOut: 'Sign out',
    errors: {
      'sign-in-link-unknown': 'This sign-in link is unknown. Ask for a new one.',
      'sign-in-link-used': 'This sign-in link was already used. Ask for a new one.',
      'sign-in-link-expired': 'This sign-in link has expired. Ask for a new one.',
      'rate-limited': 'Too many tries. Wait a while and try again.',
      validation: 'Enter an email address such as somchai@example.com.',
      other: 'Something went wrong. Please try again.',
    } as Record<string, string>,
    problemTitle: 'Could not sign in',
  },
  th: {
    signInTitle: 'เข้าสู่ระบบสมาชิก',
    linkIntro: 'กดปุ่มเพื่อเข้าสู่ระบบ ลิงก์ใช้ได้ครั้งเดียว',
    signIn: 'เข้าสู่ระบบ',
    askIntro: 'เราจะส่งลิงก์เข้าสู่ระบบไปที่อีเมลของคุณ',
    email: 'อีเมล',
    send: 'ส่งลิงก์เข้าสู่ระบบทางอีเมล',
    sent: 'หากอีเมลนี้เป็นของสมาชิก ลิงก์เข้าสู่ระบบกำลังส่งไป ลิงก์ใช้ได้ 15 นาที',
    noGym: 'เปิดลิงก์เข้าสู่ระบบจากอีเมลของคุณ หรือสอบถามที่เคาน์เตอร์',
    invoicesTitle: (gym: string) => `${gym}: ใบแจ้งหนี้ของคุณ`,
    hello: (name: string) => `เข้าสู่ระบบในชื่อ ${name}`,
    none: 'ยังไม่มีใบแจ้งหนี้',
    invoice: 'ใบแจ้งหนี้',
    period: 'รอบ',
    amount: 'ยอดเงิน',
    status: 'สถานะ',
    statuses: { open: 'รอชำระ', paid: 'ชำระแล้ว', void: 'ยกเลิก', uncollectible: 'ค้างชำระ' } as Record<string, string>,
    signOut: 'ออกจากระบบ',
    errors: {
      'sign-in-link-unknown': 'ไม่พบลิงก์เข้าสู่ระบบนี้ โปรดขอลิงก์ใหม่',
      'sign-in-link-used': 'ลิงก์เข้าสู่ระบบนี้ถูกใช้ไปแล้ว โปรดขอลิงก์ใหม่',
      'sign-in-link-expired': 'ลิงก์เข้าสู่ระบบนี้หมดอายุแล้ว โปรดขอลิงก์ใหม่',
      'rate-limited': 'ลองหลายครั้งเกินไป โปรดรอสักครู่แล้วลองใหม่',
      validation: 'ใส่อีเมล เช่น somchai@example.com',
      other: 'เกิดข้อผิดพลาด โปรดลองอีกครั้ง',
    } as Record<string, string>,
    problemTitle: 'เข้าสู่ระบบไม่ได้',
  },
} satisfies Record<PageLanguage, unknown>;

const said = (w: (typeof WORDS)[PageLanguage], error: unknown) => {
  if (!(error instanceof ApiProblem)) console.error(JSON.stringify({ msg: 'member page failed', error: String(error) }));
  return (error instanceof ApiProblem && w.errors[error.slug]) || w.errors.other!;
};
const statusOf = (error: unknown): PageStatus => (error instanceof ApiProblem && [400, 401, 403, 404, 410, 429].includes(error.status) ? (error.status as PageStatus) : 400);

async function signedIn(c: Context<AppEnv>): Promise<MemberSessionContext | null> {
  try {
    return await resolveMemberSession(c);
  } catch (error) {
    if (error instanceof ApiProblem && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}

function askPage(c: Context<AppEnv>, gym: string | undefined, notice: string | null = null, error: unknown = null) {
  const lang = pageLanguage(c);
  const w = WORDS[lang];
  if (!gym || !/^org_[0-9a-z]{10,40}$/.test(gym)) return htmlPage(c, lang, w.signInTitle, html`<p>${w.noGym}</p>`);
  return htmlPage(
    c,
    lang,
    w.signInTitle,
    html`${errorLine(error ? said(w, error) : null)}${notice ? html`<p class="sent" role="status">${notice}</p>` : ''}<p>${w.askIntro}</p>
<form method="post" action="/me/sign-in/start"><input type="hidden" name="gym" value="${gym}">
<label for="email">${w.email}</label><input id="email" name="email" type="email" required autocomplete="email">
<button>${w.send}</button></form>`,
    error ? statusOf(error) : 200,
  );
}

export const memberPagesRouter = new Hono<AppEnv>()
  .get('/me/sign-in', (c) => {
    const token = c.req.query('token');
    if (!token) return askPage(c, c.req.query('gym'));
    const lang = pageLanguage(c);
    const w = WORDS[lang];
    return htmlPage(c, lang, w.signInTitle, html`<p>${w.linkIntro}</p><form method="post" action="/me/sign-in"><input type="hidden" name="token" value="${token}"><button>${w.signIn}</button></form>`);
  })
  .post('/me/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token : '';
    try {
      await useMemberLink(c, token);
      return c.redirect('/me', 303);
    } catch (error) {
      const lang = pageLanguage(c);
      const w = WORDS[lang];
      return htmlPage(c, lang, w.problemTitle, errorLine(said(w, error)), statusOf(error), '/me/sign-in');
    }
  })
  .post('/me/sign-in/start', async (c) => {
    const form = await c.req.parseBody();
    const gym = typeof form.gym === 'string' ? form.gym : '';
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const lang = pageLanguage(c);
    if (!/^\S+@\S+\.\S+$/.test(email) || email.length > 320) return askPage(c, gym, null, new ApiProblem(400, 'validation', 'Invalid'));
    try {
      await startMemberSignIn(c, { organisationId: gym, email });
      return askPage(c, gym, WORDS[lang].sent);
    } catch (error) {
      return askPage(c, gym, null, error);
    }
  })
  .get('/me', async (c) => {
    const me = await signedIn(c);
    if (!me) return c.redirect('/me/sign-in', 303);
    const lang = pageLanguage(c, me.member.locale);
    const w = WORDS[lang];
    const invoices = await invoicesPaidBy(c.var.db, me.organisation.id, me.member.id);
    const money = (amount: number, currency: string) => formatMoney(amount, currency as never, lang === 'th' ? 'th-TH' : 'en-US');
    const table = invoices.length
      ? html`<table><thead><tr><th scope="col">${w.invoice}</th><th scope="col">${w.period}</th><th scope="col">${w.amount}</th><th scope="col">${w.status}</th></tr></thead><tbody>${invoices.map(
          (i) =>
            html`<tr class="invoice" data-id="${i.id}"><td>${i.number ?? ''}</td><td>${i.periodStart ?? ''}${i.periodEnd ? ` – ${i.periodEnd}` : ''}</td><td class="amount">${money(i.total, i.currency)}</td><td data-status="${i.status}">${w.statuses[i.status] ?? i.status}</td></tr>`,
        )}</tbody></table>`
      : html`<p>${w.none}</p>`;
    return htmlPage(
      c,
      lang,
      w.invoicesTitle(me.organisation.name),
      html`<p class="who">${w.hello(me.member.name)}</p>${table}<form method="post" action="/me/sign-out"><input type="hidden" name="_csrf" value="${me.csrfToken}"><button>${w.signOut}</button></form>`,
    );
  })
  .post('/me/sign-out', async (c) => {
    const me = await signedIn(c);
    if (me) await endMemberSession(c, me);
    return c.redirect('/me/sign-in', 303);
  });

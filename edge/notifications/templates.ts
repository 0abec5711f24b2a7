// Member notices of membership billing (renewals, card expiry, dunning) in English and Thai.
// Pure functions: renderNotice(template, data, locale) → an email (subject, text, HTML) and an
// SMS with its encoding and segment count. Amounts go through core/billing/money.ts formatMoney
// (THB 1,990.00 in English, ฿1,990.00 in Thai); dates are shown in the gym's time zone (Thai
// dates use the Buddhist calendar, as th-TH does).
import { z } from 'zod';
import { Money, formatMoney } from '../../core/billing/money.ts';
import { gsmFriendly, smsLength, type SmsLength } from './sms.ts';
import { MEMBER_LOCALES } from '../../core/contracts/common.ts';

export const NOTICE_TEMPLATES = [
  'renewal_upcoming',
  'card_expiring',
  'payment_failed',
  'update_card',
  'suspension_upcoming',
  'suspended',
  'restored',
  'payment_recovered',
  'final_notice',
  'staff_invitation',
  'member_sign_in',
] as const;
export const NoticeTemplate = z.enum(NOTICE_TEMPLATES).meta({ id: 'NoticeTemplate' });
export type NoticeTemplate = z.infer<typeof NoticeTemplate>;

export const LOCALES = MEMBER_LOCALES;
export const Locale = z.enum(LOCALES).meta({ id: 'NoticeLocale' });
export type Locale = z.infer<typeof Locale>;

const isLocalHost = (host: string) => host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
/** Links members are sent to: https only (plain http is allowed for a local dev server). */
const SecureUrl = z
  .string()
  .max(500)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || (u.protocol === 'http:' && isLocalHost(u.hostname));
    } catch {
      return false;
    }
  }, 'must be an https URL');
const EpochMs = z.number().int().min(0);

const common = {
  gymName: z.string().trim().min(1).max(100),
  memberName: z.string().trim().min(1).max(200),
  /** IANA zone dates are shown in; default Asia/Bangkok. */
  timezone: z.string().max(64).optional(),
};

/** What each template needs. Times are epoch ms. */
export const NoticeDataSchemas = {
  renewal_upcoming: z.object({ ...common, amount: Money, renewsAt: EpochMs, cardLast4: z.string().regex(/^\d{4}$/).nullish() }),
  card_expiring: z.object({
    ...common,
    cardLast4: z.string().regex(/^\d{4}$/),
    expMonth: z.number().int().min(1).max(12),
    expYear: z.number().int().min(2000).max(2100),
    updateCardUrl: SecureUrl.nullable(),
  }),
  payment_failed: z.object({ ...common, amount: Money, payUrl: SecureUrl.nullable(), nextRetryAt: EpochMs.nullish() }),
  update_card: z.object({ ...common, amount: Money, updateCardUrl: SecureUrl.nullable() }),
  suspension_upcoming: z.object({ ...common, amount: Money, suspendsAt: EpochMs, payUrl: SecureUrl.nullable() }),
  suspended: z.object({ ...common, amount: Money, payUrl: SecureUrl.nullable() }),
  restored: z.object({ ...common }),
  payment_recovered: z.object({ ...common, amount: Money }),
  final_notice: z.object({ ...common, amount: Money, payUrl: SecureUrl.nullable(), deadline: EpochMs.nullish() }),
  // To a person invited to work at the gym (memberName is theirs): the link that makes their account.
  staff_invitation: z.object({ ...common, acceptUrl: SecureUrl, expiresAt: EpochMs }),
  // A member signing in: a link by email, or a code by SMS (the other one null).
  member_sign_in: z.object({ ...common, signInUrl: SecureUrl.nullable(), code: z.string().regex(/^\d{6}$/).nullable(), expiresAt: EpochMs }),
} satisfies Record<NoticeTemplate, z.ZodType>;

export type NoticeData = { [T in NoticeTemplate]: z.input<(typeof NoticeDataSchemas)[T]> };

export type RenderedEmail = { subject: string; text: string; html: string };
export type RenderedSms = { body: string } & SmsLength;
export type RenderedNotice = { template: NoticeTemplate; locale: Locale; email: RenderedEmail; sms: RenderedSms };

/** Throws a ZodError naming the field when `data` does not fit the template. */
export function parseNoticeData<T extends NoticeTemplate>(template: T, data: unknown): NoticeData[T] {
  return NoticeDataSchemas[template].parse(data) as NoticeData[T];
}

type Fmt = { money: (m: Money) => string; date: (ms: number) => string; card: (month: number, year: number) => string };

function formatters(locale: Locale, timezone = 'Asia/Bangkok'): Fmt {
  const numberLocale = locale === 'th' ? 'th-TH' : 'en-US';
  const dates = new Intl.DateTimeFormat(locale === 'th' ? 'th-TH' : 'en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: timezone });
  return {
    money: (m) => formatMoney(m.amount, m.currency, numberLocale).replace(/[\u00a0\u202f]/g, ' '),
    date: (ms) => dates.format(ms),
    card: (month, year) => `${String(month).padStart(2, '0')}/${locale === 'th' ? year + 543 : year}`,
  };
}

type Parts = { subject: string; paragraphs: string[]; action?: { label: string; url: string }; sms: string };
type Copy = { [T in NoticeTemplate]: (d: z.output<(typeof NoticeDataSchemas)[T]>, f: Fmt) => Parts };

// A notice whose link could not be made (no public address configured) still goes out, pointing
// the member to the front desk instead.
const action = (label: string, url: string | null | undefined) => (url ? { action: { label, url } } : {});
const linkOr = (url: string | null | undefined, withLink: (url: string) => string, without: string) => (url ? withLink(url) : without);

const EN: Copy = {
  renewal_upcoming: (d, f) => ({
    subject: `Your ${d.gymName} membership renews on ${f.date(d.renewsAt)}`,
    paragraphs: [
      `Your membership renews on ${f.date(d.renewsAt)}. We will charge ${f.money(d.amount)}${d.cardLast4 ? ` to your card ending ${d.cardLast4}` : ''}.`,
      'No action is needed.',
    ],
    sms: `${d.gymName}: your membership renews on ${f.date(d.renewsAt)}. We will charge ${f.money(d.amount)}${d.cardLast4 ? ` to card ending ${d.cardLast4}` : ''}.`,
  }),
  card_expiring: (d, f) => ({
    subject: `Your card ending ${d.cardLast4} expires soon`,
    paragraphs: [
      `The card ending ${d.cardLast4} that pays for your ${d.gymName} membership expires at the end of ${f.card(d.expMonth, d.expYear)}.`,
      'Please add a new card so your membership continues without interruption.',
    ],
    ...action('Update card', d.updateCardUrl),
    sms: `${d.gymName}: your card ending ${d.cardLast4} expires ${f.card(d.expMonth, d.expYear)}. ${linkOr(d.updateCardUrl, (u) => `Update it: ${u}`, 'Please update it at the front desk.')}`,
  }),
  payment_failed: (d, f) => ({
    subject: `Payment failed: ${f.money(d.amount)} for ${d.gymName}`,
    paragraphs: [
      `We could not collect ${f.money(d.amount)} for your membership.${d.nextRetryAt ? ` We will try your card again on ${f.date(d.nextRetryAt)}.` : ''}`,
      linkOr(d.payUrl, () => 'You can pay now with the secure link below.', 'You can pay at the front desk.'),
    ],
    ...action('Pay now', d.payUrl),
    sms: `${d.gymName}: payment of ${f.money(d.amount)} failed. ${linkOr(d.payUrl, (u) => `Pay securely: ${u}`, 'Please pay at the front desk.')}`,
  }),
  update_card: (d, f) => ({
    subject: `Action needed: update your card for ${d.gymName}`,
    paragraphs: [
      `Your bank declined the payment of ${f.money(d.amount)} and it cannot be retried with this card.`,
      linkOr(d.updateCardUrl, () => 'Please add a new card; we will charge it straight away.', 'Please add a new card at the front desk; we will charge it straight away.'),
    ],
    ...action('Update card', d.updateCardUrl),
    sms: `${d.gymName}: your bank declined ${f.money(d.amount)}. ${linkOr(d.updateCardUrl, (u) => `Please update your card: ${u}`, 'Please update your card at the front desk.')}`,
  }),
  suspension_upcoming: (d, f) => ({
    subject: `Your ${d.gymName} access will be paused on ${f.date(d.suspendsAt)}`,
    paragraphs: [
      `${f.money(d.amount)} is still unpaid. If it is not paid by ${f.date(d.suspendsAt)}, your door access will be paused until it is.`,
      linkOr(d.payUrl, () => 'You can pay now with the secure link below.', 'You can pay at the front desk.'),
    ],
    ...action('Pay now', d.payUrl),
    sms: `${d.gymName}: ${f.money(d.amount)} unpaid. Access pauses on ${f.date(d.suspendsAt)}. ${linkOr(d.payUrl, (u) => `Pay: ${u}`, 'Please pay at the front desk.')}`,
  }),
  suspended: (d, f) => ({
    subject: `Your ${d.gymName} membership is suspended`,
    paragraphs: [`Your door access is paused because ${f.money(d.amount)} is unpaid.`, 'It comes back as soon as you pay.'],
    ...action('Pay now', d.payUrl),
    sms: `${d.gymName}: access paused, ${f.money(d.amount)} unpaid. ${linkOr(d.payUrl, (u) => `Pay to restore: ${u}`, 'Pay at the front desk to restore it.')}`,
  }),
  member_sign_in: (d) => ({
    subject: `Sign in to ${d.gymName}`,
    paragraphs: [d.code ? `Your sign-in code is ${d.code}. It works once, for 10 minutes.` : 'Use the button below to sign in. The link works once, for 15 minutes.', 'If you did not ask to sign in, ignore this message.'],
    ...action('Sign in', d.signInUrl),
    sms: d.code ? `${d.gymName}: your sign-in code is ${d.code}. It expires in 10 minutes.` : `${d.gymName}: sign in: ${d.signInUrl ?? ''}`,
  }),
  staff_invitation: (d, f) => ({
    subject: `You are invited to work at ${d.gymName}`,
    paragraphs: [
      `${d.gymName} has invited you to sign in to gymgate as a member of its staff.`,
      `Open the link below and choose a password. The link works once and until ${f.date(d.expiresAt)}.`,
      'If you did not expect this, ignore this email.',
    ],
    ...action('Accept the invitation', d.acceptUrl),
    sms: `${d.gymName} invites you to its staff on gymgate: ${d.acceptUrl}`,
  }),
  restored: (d) => ({
    subject: `Your ${d.gymName} membership is active again`,
    paragraphs: ['Thank you. Your door access is restored and your membership is active again.'],
    sms: `${d.gymName}: your access is restored. See you soon!`,
  }),
  payment_recovered: (d, f) => ({
    subject: `Payment received: ${f.money(d.amount)}`,
    paragraphs: [`We received your payment of ${f.money(d.amount)} for your ${d.gymName} membership. Thank you.`],
    sms: `${d.gymName}: payment of ${f.money(d.amount)} received. Thank you!`,
  }),
  final_notice: (d, f) => ({
    subject: `Final notice: ${f.money(d.amount)} overdue at ${d.gymName}`,
    paragraphs: [
      `This is our last reminder: ${f.money(d.amount)} is overdue${d.deadline ? ` and must be paid by ${f.date(d.deadline)}` : ''}.`,
      'If it remains unpaid, your membership will be closed under your membership terms.',
    ],
    ...action('Pay now', d.payUrl),
    sms: `${d.gymName}: FINAL NOTICE, ${f.money(d.amount)} overdue. ${linkOr(d.payUrl, (u) => `Pay now: ${u}`, 'Please pay at the front desk.')}`,
  }),
};

const TH: Copy = {
  renewal_upcoming: (d, f) => ({
    subject: `สมาชิก ${d.gymName} ของคุณจะต่ออายุในวันที่ ${f.date(d.renewsAt)}`,
    paragraphs: [
      `สมาชิกของคุณจะต่ออายุในวันที่ ${f.date(d.renewsAt)} โดยจะเรียกเก็บเงิน ${f.money(d.amount)}${d.cardLast4 ? ` จากบัตรที่ลงท้ายด้วย ${d.cardLast4}` : ''}`,
      'คุณไม่ต้องดำเนินการใดๆ',
    ],
    sms: `${d.gymName}: ต่ออายุสมาชิก ${f.date(d.renewsAt)} ยอด ${f.money(d.amount)}`,
  }),
  card_expiring: (d, f) => ({
    subject: `บัตรที่ลงท้ายด้วย ${d.cardLast4} ใกล้หมดอายุ`,
    paragraphs: [
      `บัตรที่ลงท้ายด้วย ${d.cardLast4} ซึ่งใช้ชำระค่าสมาชิก ${d.gymName} จะหมดอายุเมื่อสิ้นเดือน ${f.card(d.expMonth, d.expYear)}`,
      'โปรดเพิ่มบัตรใหม่เพื่อให้ใช้บริการได้ต่อเนื่อง',
    ],
    ...action('อัปเดตบัตร', d.updateCardUrl),
    sms: `${d.gymName}: บัตร ${d.cardLast4} จะหมดอายุ ${linkOr(d.updateCardUrl, (u) => `อัปเดตที่ ${u}`, 'อัปเดตได้ที่เคาน์เตอร์')}`,
  }),
  payment_failed: (d, f) => ({
    subject: `ชำระเงินไม่สำเร็จ: ${f.money(d.amount)} สำหรับ ${d.gymName}`,
    paragraphs: [
      `เราไม่สามารถเรียกเก็บเงิน ${f.money(d.amount)} สำหรับสมาชิกของคุณได้${d.nextRetryAt ? ` และจะลองเรียกเก็บอีกครั้งในวันที่ ${f.date(d.nextRetryAt)}` : ''}`,
      linkOr(d.payUrl, () => 'คุณสามารถชำระเงินได้ทันทีผ่านลิงก์ที่ปลอดภัยด้านล่าง', 'คุณสามารถชำระเงินได้ที่เคาน์เตอร์'),
    ],
    ...action('ชำระเงินตอนนี้', d.payUrl),
    sms: `${d.gymName}: ชำระ ${f.money(d.amount)} ไม่สำเร็จ ${linkOr(d.payUrl, (u) => `ชำระที่ ${u}`, 'ชำระได้ที่เคาน์เตอร์')}`,
  }),
  update_card: (d, f) => ({
    subject: `โปรดอัปเดตบัตรสำหรับ ${d.gymName}`,
    paragraphs: [
      `ธนาคารปฏิเสธการชำระเงิน ${f.money(d.amount)} และไม่สามารถลองใหม่กับบัตรนี้ได้`,
      linkOr(d.updateCardUrl, () => 'โปรดเพิ่มบัตรใหม่ แล้วเราจะเรียกเก็บเงินทันที', 'โปรดเพิ่มบัตรใหม่ที่เคาน์เตอร์ แล้วเราจะเรียกเก็บเงินทันที'),
    ],
    ...action('อัปเดตบัตร', d.updateCardUrl),
    sms: `${d.gymName}: ธนาคารปฏิเสธ ${f.money(d.amount)} ${linkOr(d.updateCardUrl, (u) => `โปรดอัปเดตบัตร ${u}`, 'โปรดอัปเดตบัตรที่เคาน์เตอร์')}`,
  }),
  suspension_upcoming: (d, f) => ({
    subject: `สิทธิ์เข้าใช้ ${d.gymName} จะถูกระงับในวันที่ ${f.date(d.suspendsAt)}`,
    paragraphs: [
      `ยังมียอดค้างชำระ ${f.money(d.amount)} หากไม่ชำระภายในวันที่ ${f.date(d.suspendsAt)} สิทธิ์การเข้าประตูของคุณจะถูกระงับจนกว่าจะชำระ`,
      linkOr(d.payUrl, () => 'คุณสามารถชำระเงินได้ทันทีผ่านลิงก์ที่ปลอดภัยด้านล่าง', 'คุณสามารถชำระเงินได้ที่เคาน์เตอร์'),
    ],
    ...action('ชำระเงินตอนนี้', d.payUrl),
    sms: `${d.gymName}: ค้างชำระ ${f.money(d.amount)} ระงับสิทธิ์ ${f.date(d.suspendsAt)} ${linkOr(d.payUrl, (u) => `ชำระที่ ${u}`, 'ชำระได้ที่เคาน์เตอร์')}`,
  }),
  suspended: (d, f) => ({
    subject: `สมาชิก ${d.gymName} ของคุณถูกระงับชั่วคราว`,
    paragraphs: [`สิทธิ์การเข้าประตูของคุณถูกระงับเนื่องจากค้างชำระ ${f.money(d.amount)}`, 'สิทธิ์จะกลับมาทันทีเมื่อชำระเงิน'],
    ...action('ชำระเงินตอนนี้', d.payUrl),
    sms: `${d.gymName}: ระงับสิทธิ์ ค้างชำระ ${f.money(d.amount)} ${linkOr(d.payUrl, (u) => `ชำระที่ ${u}`, 'ชำระได้ที่เคาน์เตอร์')}`,
  }),
  member_sign_in: (d) => ({
    subject: `เข้าสู่ระบบ ${d.gymName}`,
    paragraphs: [d.code ? `รหัสเข้าสู่ระบบของคุณคือ ${d.code} ใช้ได้ครั้งเดียวภายใน 10 นาที` : 'กดปุ่มด้านล่างเพื่อเข้าสู่ระบบ ลิงก์ใช้ได้ครั้งเดียวภายใน 15 นาที', 'หากคุณไม่ได้ขอเข้าสู่ระบบ ไม่ต้องดำเนินการใดๆ'],
    ...action('เข้าสู่ระบบ', d.signInUrl),
    sms: d.code ? `${d.gymName}: รหัสเข้าสู่ระบบ ${d.code} หมดอายุใน 10 นาที` : `${d.gymName}: เข้าสู่ระบบ: ${d.signInUrl ?? ''}`,
  }),
  staff_invitation: (d, f) => ({
    subject: `คุณได้รับเชิญให้ทำงานที่ ${d.gymName}`,
    paragraphs: [
      `${d.gymName} เชิญคุณเข้าใช้ gymgate ในฐานะพนักงาน`,
      `เปิดลิงก์ด้านล่างแล้วตั้งรหัสผ่าน ลิงก์ใช้ได้ครั้งเดียวและถึงวันที่ ${f.date(d.expiresAt)}`,
      'หากคุณไม่ได้คาดว่าจะได้รับอีเมลนี้ ไม่ต้องดำเนินการใดๆ',
    ],
    ...action('ตอบรับคำเชิญ', d.acceptUrl),
    sms: `${d.gymName} เชิญคุณเป็นพนักงานใน gymgate: ${d.acceptUrl}`,
  }),
  restored: (d) => ({
    subject: `สมาชิก ${d.gymName} ของคุณกลับมาใช้งานได้แล้ว`,
    paragraphs: ['ขอบคุณ สิทธิ์การเข้าประตูของคุณกลับมาแล้ว และสมาชิกของคุณใช้งานได้ตามปกติ'],
    sms: `${d.gymName}: สิทธิ์เข้าใช้กลับมาแล้ว ขอบคุณ`,
  }),
  payment_recovered: (d, f) => ({
    subject: `ได้รับชำระเงิน ${f.money(d.amount)} แล้ว`,
    paragraphs: [`เราได้รับชำระเงิน ${f.money(d.amount)} สำหรับสมาชิก ${d.gymName} แล้ว ขอบคุณ`],
    sms: `${d.gymName}: ได้รับชำระ ${f.money(d.amount)} แล้ว ขอบคุณ`,
  }),
  final_notice: (d, f) => ({
    subject: `แจ้งเตือนครั้งสุดท้าย: ค้างชำระ ${f.money(d.amount)} ที่ ${d.gymName}`,
    paragraphs: [
      `นี่คือการแจ้งเตือนครั้งสุดท้าย ยอด ${f.money(d.amount)} เลยกำหนดชำระแล้ว${d.deadline ? ` โปรดชำระภายในวันที่ ${f.date(d.deadline)}` : ''}`,
      'หากยังไม่ชำระ สมาชิกของคุณจะถูกปิดตามเงื่อนไขการเป็นสมาชิก',
    ],
    ...action('ชำระเงินตอนนี้', d.payUrl),
    sms: `${d.gymName}: แจ้งครั้งสุดท้าย ค้างชำระ ${f.money(d.amount)} ${linkOr(d.payUrl, (u) => `ชำระที่ ${u}`, 'ชำระได้ที่เคาน์เตอร์')}`,
  }),
};

const GREETING: Record<Locale, (name: string) => string> = { en: (n) => `Hi ${n},`, th: (n) => `เรียน คุณ${n}` };

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);

function toEmail(parts: Parts, locale: Locale, memberName: string, gymName: string): RenderedEmail {
  const greeting = GREETING[locale](memberName);
  const text = [greeting, '', ...parts.paragraphs.flatMap((p) => [p, '']), ...(parts.action ? [`${parts.action.label}: ${parts.action.url}`, ''] : []), gymName].join('\n');
  const html = [
    `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(parts.subject)}</title></head>`,
    '<body style="font-family:sans-serif;line-height:1.5;color:#222">',
    `<p>${escapeHtml(greeting)}</p>`,
    ...parts.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(parts.action
      ? [
          `<p><a href="${escapeHtml(parts.action.url)}" style="display:inline-block;padding:10px 18px;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px">${escapeHtml(parts.action.label)}</a></p>`,
          `<p style="font-size:12px;color:#666">${escapeHtml(parts.action.url)}</p>`,
        ]
      : []),
    `<p>${escapeHtml(gymName)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject: parts.subject, text, html };
}

/**
 * Renders one notice for a member. `data` is validated against the template (a ZodError names a
 * missing or invalid field). English SMS is kept to the GSM-7 alphabet where the gym's name allows,
 * so one segment holds 160 characters; Thai SMS is UCS-2 (70 per segment, 67 when split).
 */
export function renderNotice<T extends NoticeTemplate>(template: T, data: NoticeData[T], locale: Locale = 'en'): RenderedNotice {
  const parsed = NoticeDataSchemas[template].parse(data) as z.output<(typeof NoticeDataSchemas)[T]>;
  const f = formatters(locale, parsed.timezone);
  const copy = (locale === 'th' ? TH : EN)[template] as (d: typeof parsed, f: Fmt) => Parts;
  const parts = copy(parsed, f);
  const smsBody = locale === 'en' ? gsmFriendly(parts.sms) : parts.sms;
  return {
    template,
    locale,
    email: toEmail(parts, locale, parsed.memberName, parsed.gymName),
    sms: { body: smsBody, ...smsLength(smsBody) },
  };
}

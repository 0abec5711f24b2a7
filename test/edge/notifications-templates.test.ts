import { describe, expect, it } from 'vitest';
import { smsLength } from '../../edge/notifications/sms.ts';
import { NOTICE_TEMPLATES, renderNotice, type NoticeData, type NoticeTemplate } from '../../edge/notifications/templates.ts';

const base = { gymName: 'Sukhumvit Gym', memberName: 'Somchai P.', timezone: 'Asia/Bangkok' };
const thb = (amount: number) => ({ amount, currency: 'THB' as const });
// 2026-12-01 10:00 in Bangkok.
const DEC_1 = Date.parse('2026-12-01T03:00:00Z');
const PAY = 'https://pay.gymgate.dev/p/7Kq2mX9d';
const CARD = 'https://pay.gymgate.dev/c/7Kq2mX9d';

const SAMPLES: { [T in NoticeTemplate]: NoticeData[T] } = {
  renewal_upcoming: { ...base, amount: thb(199000), renewsAt: DEC_1, cardLast4: '4242' },
  card_expiring: { ...base, cardLast4: '4242', expMonth: 12, expYear: 2026, updateCardUrl: CARD },
  payment_failed: { ...base, amount: thb(199000), payUrl: PAY, nextRetryAt: DEC_1 },
  update_card: { ...base, amount: thb(199000), updateCardUrl: CARD },
  suspension_upcoming: { ...base, amount: thb(199000), suspendsAt: DEC_1, payUrl: PAY },
  suspended: { ...base, amount: thb(199000), payUrl: PAY },
  restored: { ...base },
  payment_recovered: { ...base, amount: thb(199000) },
  final_notice: { ...base, amount: thb(398000), payUrl: PAY, deadline: DEC_1 },
  staff_invitation: { ...base, acceptUrl: 'https://gym.example/staff/invitation?token=ggi_x', expiresAt: DEC_1 },
  member_sign_in: { ...base, signInUrl: null, code: '482916', expiresAt: DEC_1 },
};

const render = <T extends NoticeTemplate>(t: T, locale?: 'en' | 'th') => renderNotice(t, SAMPLES[t], locale);

describe('notice templates: exact subjects', () => {
  const EN: Record<NoticeTemplate, string> = {
    renewal_upcoming: 'Your Sukhumvit Gym membership renews on 1 Dec 2026',
    card_expiring: 'Your card ending 4242 expires soon',
    payment_failed: 'Payment failed: THB 1,990.00 for Sukhumvit Gym',
    update_card: 'Action needed: update your card for Sukhumvit Gym',
    suspension_upcoming: 'Your Sukhumvit Gym access will be paused on 1 Dec 2026',
    suspended: 'Your Sukhumvit Gym membership is suspended',
    restored: 'Your Sukhumvit Gym membership is active again',
    payment_recovered: 'Payment received: THB 1,990.00',
    final_notice: 'Final notice: THB 3,980.00 overdue at Sukhumvit Gym',
    staff_invitation: 'You are invited to work at Sukhumvit Gym',
    member_sign_in: 'Sign in to Sukhumvit Gym',
  };
  const TH: Record<NoticeTemplate, string> = {
    renewal_upcoming: 'สมาชิก Sukhumvit Gym ของคุณจะต่ออายุในวันที่ 1 ธ.ค. 2569',
    card_expiring: 'บัตรที่ลงท้ายด้วย 4242 ใกล้หมดอายุ',
    payment_failed: 'ชำระเงินไม่สำเร็จ: ฿1,990.00 สำหรับ Sukhumvit Gym',
    update_card: 'โปรดอัปเดตบัตรสำหรับ Sukhumvit Gym',
    suspension_upcoming: 'สิทธิ์เข้าใช้ Sukhumvit Gym จะถูกระงับในวันที่ 1 ธ.ค. 2569',
    suspended: 'สมาชิก Sukhumvit Gym ของคุณถูกระงับชั่วคราว',
    restored: 'สมาชิก Sukhumvit Gym ของคุณกลับมาใช้งานได้แล้ว',
    payment_recovered: 'ได้รับชำระเงิน ฿1,990.00 แล้ว',
    final_notice: 'แจ้งเตือนครั้งสุดท้าย: ค้างชำระ ฿3,980.00 ที่ Sukhumvit Gym',
    staff_invitation: 'คุณได้รับเชิญให้ทำงานที่ Sukhumvit Gym',
    member_sign_in: 'เข้าสู่ระบบ Sukhumvit Gym',
  };
  for (const t of NOTICE_TEMPLATES) {
    it(`${t} in English and Thai`, () => {
      expect(render(t, 'en').email.subject).toBe(EN[t]);
      expect(render(t, 'th').email.subject).toBe(TH[t]);
    });
  }

  it('defaults to English', () => {
    expect(renderNotice('payment_failed', SAMPLES.payment_failed).locale).toBe('en');
    expect(renderNotice('payment_failed', SAMPLES.payment_failed).email.subject).toBe(EN.payment_failed);
  });
});

describe('notice templates: bodies', () => {
  it('payment failed carries the pay-now link in text, HTML and SMS', () => {
    const en = render('payment_failed', 'en');
    expect(en.email.text).toBe(
      [
        'Hi Somchai P.,',
        '',
        'We could not collect THB 1,990.00 for your membership. We will try your card again on 1 Dec 2026.',
        '',
        'You can pay now with the secure link below.',
        '',
        `Pay now: ${PAY}`,
        '',
        'Sukhumvit Gym',
      ].join('\n'),
    );
    expect(en.email.html).toContain(`<a href="${PAY}"`);
    expect(en.email.html).toContain('<html lang="en">');
    expect(en.sms.body).toBe(`Sukhumvit Gym: payment of THB 1,990.00 failed. Pay securely: ${PAY}`);

    const th = render('payment_failed', 'th');
    expect(th.email.text.split('\n')[0]).toBe('เรียน คุณSomchai P.');
    expect(th.email.text).toContain('เราไม่สามารถเรียกเก็บเงิน ฿1,990.00 สำหรับสมาชิกของคุณได้ และจะลองเรียกเก็บอีกครั้งในวันที่ 1 ธ.ค. 2569');
    expect(th.email.text).toContain(`ชำระเงินตอนนี้: ${PAY}`);
    expect(th.email.html).toContain('<html lang="th">');
    expect(th.sms.body).toBe(`Sukhumvit Gym: ชำระ ฿1,990.00 ไม่สำเร็จ ชำระที่ ${PAY}`);
  });

  it('formats amounts per currency and locale', () => {
    const usd = renderNotice('payment_recovered', { ...base, amount: { amount: 4999, currency: 'USD' } });
    expect(usd.email.subject).toBe('Payment received: $49.99');
    const jpy = renderNotice('payment_recovered', { ...base, amount: { amount: 1990, currency: 'JPY' } });
    expect(jpy.email.subject).toBe('Payment received: ¥1,990');
    const satang = renderNotice('payment_recovered', { ...base, amount: thb(5) }, 'th');
    expect(satang.email.subject).toBe('ได้รับชำระเงิน ฿0.05 แล้ว');
    // Intl puts a no-break space in "THB 1,990.00"; it would force UCS-2, so SMS gets a plain space.
    expect(render('payment_recovered', 'en').sms.body).toBe('Sukhumvit Gym: payment of THB 1,990.00 received. Thank you!');
    expect(render('payment_recovered', 'en').sms.encoding).toBe('gsm7');
  });

  it('shows Thai card expiry in the Buddhist year', () => {
    expect(render('card_expiring', 'en').email.text).toContain('expires at the end of 12/2026.');
    expect(render('card_expiring', 'th').email.text).toContain('จะหมดอายุเมื่อสิ้นเดือน 12/2569');
  });

  it('escapes names in HTML', () => {
    const r = renderNotice('restored', { ...base, memberName: '<script>alert(1)</script>', gymName: 'Tom & Jerry "Fit"' });
    expect(r.email.html).not.toContain('<script>');
    expect(r.email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(r.email.html).toContain('Tom &amp; Jerry &quot;Fit&quot;');
    expect(r.email.subject).toBe('Your Tom & Jerry "Fit" membership is active again');
  });

  it('refuses a pay link that is not https, and missing fields', () => {
    expect(() => renderNotice('payment_failed', { ...SAMPLES.payment_failed, payUrl: 'http://pay.example/p/1' })).toThrow(/https/);
    expect(() => renderNotice('payment_failed', { ...base, amount: thb(100) } as never)).toThrow(/payUrl/);
  });

  it('a notice whose link could not be made (no public address) sends the member to the front desk', () => {
    const links = { card_expiring: 'updateCardUrl', update_card: 'updateCardUrl', payment_failed: 'payUrl', suspension_upcoming: 'payUrl', suspended: 'payUrl', final_notice: 'payUrl' } as const;
    for (const [t, field] of Object.entries(links) as Array<[keyof typeof links, string]>) {
      for (const locale of ['en', 'th'] as const) {
        const r = renderNotice(t, { ...SAMPLES[t], [field]: null } as never, locale);
        expect(r.email.html, `${t} ${locale}`).not.toContain('href');
        expect(`${r.email.text}\n${r.sms.body}`, `${t} ${locale}`).not.toMatch(/https?:|null|undefined/);
        expect(r.sms.body, `${t} ${locale}`).toContain(locale === 'en' ? 'front desk' : 'เคาน์เตอร์');
      }
    }
  });
});

describe('SMS length', () => {
  it('every English SMS is one GSM-7 segment; every Thai SMS is UCS-2 with its segments counted', () => {
    for (const t of NOTICE_TEMPLATES) {
      const en = render(t, 'en').sms;
      expect(en.encoding, t).toBe('gsm7');
      expect(en.units, t).toBeLessThanOrEqual(160);
      expect(en.segments, t).toBe(1);
      const th = render(t, 'th').sms;
      expect(th.encoding, t).toBe('ucs2');
      expect(th.units, t).toBe(th.body.length);
      expect(th.segments, t).toBe(th.units <= 70 ? 1 : Math.ceil(th.units / 67));
      expect(th.segments, t).toBeLessThanOrEqual(2);
    }
    // The short Thai notices fit one segment; the ones with a link take two.
    expect(render('restored', 'th').sms.segments).toBe(1);
    expect(render('payment_failed', 'th').sms.segments).toBe(2);
  });

  it('counts GSM-7 septets and segments', () => {
    expect(smsLength('')).toMatchObject({ encoding: 'gsm7', units: 0, segments: 1 });
    expect(smsLength('a'.repeat(160))).toMatchObject({ encoding: 'gsm7', units: 160, segments: 1 });
    expect(smsLength('a'.repeat(161))).toMatchObject({ units: 161, segments: 2 });
    expect(smsLength('a'.repeat(306))).toMatchObject({ segments: 2 });
    expect(smsLength('a'.repeat(307))).toMatchObject({ segments: 3 });
    // Extension-table characters take two septets.
    expect(smsLength('€'.repeat(80))).toMatchObject({ encoding: 'gsm7', units: 160, segments: 1 });
    expect(smsLength(`${'a'.repeat(159)}€`)).toMatchObject({ units: 161, segments: 2 });
    expect(smsLength('Café Zürich àé')).toMatchObject({ encoding: 'gsm7' });
  });

  it('counts UCS-2 units and segments', () => {
    expect(smsLength('ก'.repeat(70))).toMatchObject({ encoding: 'ucs2', units: 70, segments: 1 });
    expect(smsLength('ก'.repeat(71))).toMatchObject({ units: 71, segments: 2 });
    expect(smsLength('ก'.repeat(134))).toMatchObject({ segments: 2 });
    expect(smsLength('ก'.repeat(135))).toMatchObject({ segments: 3 });
    // One character outside GSM-7 switches the whole message.
    expect(smsLength(`${'a'.repeat(69)}’`)).toMatchObject({ encoding: 'ucs2', units: 70, segments: 1 });
    expect(smsLength('💪')).toMatchObject({ encoding: 'ucs2', units: 2 });
  });
});

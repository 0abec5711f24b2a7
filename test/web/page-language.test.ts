// The member's pages in the member's language (Chromium, simulated processor): a Thai member's
// pay-now and update-card pages speak Thai, the language switch changes it and the choice holds
// through a form post and later visits; the pages and the dev mailbox fit a phone and pass axe-core.
import { describe, expect, it } from 'vitest';
import { axeViolations, fitsWidth, loopbackContext, mailboxCardLink, memberInDunning, memberOf, simulatedCard, simulatedPageSession } from './support.ts';

const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

describe('pages in the member’s language', () => {
  const s = simulatedPageSession();

  it('a Thai member reads the pay-now and update-card pages in Thai, switches to English, and the choice holds after saving a card', async () => {
    const email = 'malee@example.com';
    const m = await memberInDunning(s.gym, s.planId, 'มาลี ส.', email, simulatedCard(s.gym, 'pm_card_chargeDeclinedLostCard'), { locale: 'th' });
    const cardLink = await mailboxCardLink(s.gym, email);
    const payLink = m.links[0]!;

    // Pay-now, in Thai from the member's locale, amounts in Thai baht as Thai writes them.
    await s.page.setViewportSize(PHONE);
    expect((await s.page.goto(payLink))?.status()).toBe(200);
    await expect(s.page.locator('html').getAttribute('lang')).resolves.toBe('th');
    await expect(s.page.locator('h1').textContent()).resolves.toMatch(/^ชำระเงินให้ /);
    await expect(s.page.locator('.amount').textContent()).resolves.toBe('฿1,990.00');
    await expect(s.page.getByRole('button', { name: 'ชำระด้วยบัตร' }).count()).resolves.toBe(1);
    await expect(s.page.getByRole('button', { name: 'ชำระด้วยพร้อมเพย์' }).count()).resolves.toBe(1);
    expect(await fitsWidth(s.page)).toBe(true);
    expect(await axeViolations(s.page)).toEqual([]);

    // Update-card, in Thai, at phone and desktop sizes.
    expect((await s.page.goto(cardLink))?.status()).toBe(200);
    await expect(s.page.locator('html').getAttribute('lang')).resolves.toBe('th');
    await expect(s.page.locator('h1').textContent()).resolves.toMatch(/^อัปเดตบัตรสำหรับ /);
    await expect(s.page.locator('.current-card').textContent()).resolves.toBe('บัตรที่บันทึกไว้: Visa ลงท้ายด้วย 9987');
    await expect(s.page.locator('.simulation').textContent()).resolves.toContain('ไม่มีการโอนเงินจริง');
    await expect(s.page.getByRole('button', { name: 'Visa ลงท้ายด้วย 4242: ชำระเงินสำเร็จ' }).count()).resolves.toBe(1);
    await expect(s.page.locator('nav a[aria-current="page"]').textContent()).resolves.toBe('ไทย');
    expect(await fitsWidth(s.page)).toBe(true);
    expect(await axeViolations(s.page)).toEqual([]);
    await s.page.setViewportSize(DESKTOP);
    expect(await axeViolations(s.page)).toEqual([]);

    // The switch: English, on the same link, and it stays English through the form post.
    await s.page.getByRole('link', { name: 'English' }).click();
    await s.page.waitForURL(/\?lang=en$/);
    await expect(s.page.locator('html').getAttribute('lang')).resolves.toBe('en');
    await expect(s.page.locator('h1').textContent()).resolves.toMatch(/^Update your card for /);
    await expect(s.page.locator('.current-card').textContent()).resolves.toBe('Card on file: Visa ending 9987.');
    await s.page.getByRole('button', { name: 'Visa ending 4242: payment succeeds' }).click();
    await s.page.waitForURL(/\/simulate$/);
    await expect(s.page.locator('html').getAttribute('lang')).resolves.toBe('en');
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Card saved');
    await expect(s.page.locator('.invoice[data-status="paid"]').textContent()).resolves.toMatch(/\(THB\s1,990\.00\) is paid with this card/);
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'active' });

    // Later visits keep the member's choice; the switch brings Thai back.
    expect((await s.page.goto(payLink))?.status()).toBe(410);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Nothing to pay');
    await s.page.getByRole('link', { name: 'ไทย' }).click();
    await expect(s.page.locator('h1').textContent()).resolves.toBe('ไม่มียอดค้างชำระ');
    await expect(s.page.locator('html').getAttribute('lang')).resolves.toBe('th');
    expect(s.escaped).toEqual([]);
  });

  it('an English member with no choice made reads English, and the dev mailbox wraps long links on a phone', async () => {
    const { context, escaped } = await loopbackContext(s.browser);
    try {
      const page = await context.newPage();
      await page.setViewportSize(PHONE);
      const email = 'jane@example.com';
      const m = await memberInDunning(s.gym, s.planId, 'Jane D.', email, simulatedCard(s.gym, 'pm_card_chargeDeclined'));
      expect((await page.goto(m.links[0]!))?.status()).toBe(200);
      await expect(page.locator('html').getAttribute('lang')).resolves.toBe('en');
      await expect(page.locator('h1').textContent()).resolves.toMatch(/^Pay /);

      await page.goto(`${s.gym.api}/dev/mailbox`);
      // Jane's notice with its 64-hex-digit pay link is on the page (other notices may be newer).
      const withLink = page.locator('article.msg', { has: page.locator('.to', { hasText: email }) }).locator('pre.body', { hasText: /\/pay\/[0-9a-f]{64}/ });
      expect(await withLink.count()).toBeGreaterThan(0);
      expect(await fitsWidth(page)).toBe(true);
      expect(await axeViolations(page)).toEqual([]);
      expect(escaped).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

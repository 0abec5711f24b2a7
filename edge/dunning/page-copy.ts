// What the pay-now and update-card pages say, in each language a member can choose (their
// `locale`, the language of their notices). The HTML modules (./pay-page-html.ts,
// ./card-page-html.ts) take a PageCopy and never hold words of their own.
import { formatMoney, isCurrency } from '../../core/billing/money.ts';
import { MEMBER_LOCALES } from '../../core/contracts/common.ts';

export type PageLocale = (typeof MEMBER_LOCALES)[number];
export const PAGE_LOCALES = MEMBER_LOCALES;
export const isPageLocale = (s: unknown): s is PageLocale => typeof s === 'string' && (PAGE_LOCALES as readonly string[]).includes(s);

type Pair = readonly [title: string, text: string];
type Card = { brand: string | null; last4: string | null };

/** Messages shown alone on a page (title and one sentence), by what happened. */
export type NoticeKey =
  | 'payUnavailable'
  | 'payUnreachable'
  | 'payNotStarted'
  | 'payOtherService'
  | 'payAmountChanged'
  | 'payOtherMethod'
  | 'tooManyRequests'
  | 'promptpayThbOnly'
  | 'payNothingToSimulate'
  | 'unknownOutcome'
  | 'cardUnavailable'
  | 'cardUnreachable'
  | 'cardNothingToSimulate'
  | 'unknownCard'
  | 'cardNotSaved';

export type PageCopy = {
  locale: PageLocale;
  /** The language switch: its label and each language's own name. */
  language: string;
  languageNames: Record<PageLocale, string>;
  /** Stripe.js's own locale code for its Payment Element. */
  stripeLocale: string;
  money: (amount: number, currency: string) => string;
  notices: Record<NoticeKey, Pair>;
  payGone: Record<'unknown' | 'expired' | 'used' | 'settled', Pair>;
  cardGone: Record<'unknown' | 'expired' | 'used', Pair>;
  simulation: { label: string; pay: string; card: string };
  pay: {
    title: (gym: string) => string;
    invoiceOf: (member: string, invoice: string) => string;
    offline: string;
    byCard: string;
    byPromptPay: string;
    enterCard: string;
    scanPromptPay: string;
    payButton: (amount: string) => string;
    notThrough: string;
    scriptMissing: string;
    simulateScan: string;
    lastTry: (reason: string) => string;
    needsAction: string;
    declined: string;
    outcomes: Record<string, string>;
    received: [title: string, text: (member: string, invoice: string, amount: string) => string];
    processing: [title: string, text: (amount: string) => string];
    notCompleted: [title: string, text: (reason: string) => string];
    declinedOutcome: [title: string, after: string];
    tryAgain: string;
  };
  card: {
    title: (gym: string) => string;
    describe: (card: Card) => string;
    onFile: (described: string) => string;
    noneOnFile: string;
    explain: string;
    enterNew: string;
    save: string;
    notSaved: string;
    lastTry: (reason: string) => string;
    choice: (described: string, outcome: string) => string;
    saved: [title: string, text: (member: string, described: string | null) => string];
    invoicePaid: (invoice: string, amount: string) => string;
    invoiceOpen: (invoice: string, amount: string, why: string | null) => string;
    nothingLeft: string;
    processing: Pair;
    failed: [title: string, unchanged: string];
    tryAgain: string;
  };
  /** A decline in the member's words, by the issuer's or processor's code; null leaves the processor's own message. */
  declineReason: (code: string | undefined | null) => string | null;
};

const brandName = (brand: string | null, fallback: string) => (brand ? brand.charAt(0).toUpperCase() + brand.slice(1) : fallback);
const moneyIn = (locale: string) => (amount: number, currency: string) => (isCurrency(currency) ? formatMoney(amount, currency, locale) : `${currency} ${amount}`);

const EN: PageCopy = {
  locale: 'en',
  language: 'Language',
  languageNames: { en: 'English', th: 'ไทย' },
  stripeLocale: 'en',
  money: moneyIn('en'),
  notices: {
    payUnavailable: ['Payment not available', 'Online payment is not available right now. Nothing was charged; please pay at the front desk.'],
    payUnreachable: ['Payment not available', 'The payment service could not be reached. Nothing was charged; please try again in a few minutes.'],
    payNotStarted: ['Payment not available', 'The payment could not be started. Nothing was charged; please ask at the front desk.'],
    payOtherService: ['Payment not available', 'This payment was started with another payment service. Nothing more was charged; please ask at the front desk.'],
    payAmountChanged: ['Amount changed', 'What this invoice asks has changed since the payment was started. Nothing was charged; please ask at the front desk.'],
    tooManyRequests: ['Please wait a moment', 'There have been too many requests for this page. Nothing was charged or changed; please try again in a few minutes.'],
    payOtherMethod: ['Link already used', 'This payment link has already been used to start a payment another way. Nothing more was charged; open the link again to finish that payment.'],
    promptpayThbOnly: ['PromptPay not available', 'PromptPay is only available for payments in Thai baht.'],
    payNothingToSimulate: ['Not available', 'This gym takes real payments: there is nothing to simulate.'],
    unknownOutcome: ['Unknown outcome', 'That is not one of the simulated outcomes. Nothing was charged.'],
    cardUnavailable: ['Card update not available', 'Updating your card online is not available right now. Your card was not changed; please ask at the front desk.'],
    cardUnreachable: ['Card update not available', 'The payment service could not be reached. Your card was not changed; please try again in a few minutes.'],
    cardNothingToSimulate: ['Not available', 'This gym saves real cards: there is nothing to simulate.'],
    unknownCard: ['Unknown card', 'That is not one of the simulated test cards. Your card was not changed.'],
    cardNotSaved: ['Card not saved', 'The card could not be saved. Your card was not changed; please ask at the front desk.'],
  },
  payGone: {
    unknown: ['Link not valid', 'This payment link is not valid. Please use the latest message from your gym, or ask at the front desk.'],
    expired: ['Link expired', 'This payment link has expired. Nothing was charged. Your gym will send you a new link, or you can pay at the front desk.'],
    used: ['Link already used', 'This payment link has already been used. Nothing more was charged.'],
    settled: ['Nothing to pay', 'This invoice has nothing left to pay. Thank you!'],
  },
  cardGone: {
    unknown: ['Link not valid', 'This card link is not valid. Your card was not changed. Please use the latest message from your gym, or ask at the front desk.'],
    expired: ['Link expired', 'This card link has expired. Your card was not changed. Your gym will send you a new link, or you can update your card at the front desk.'],
    used: ['Link already used', 'A card has already been saved with this link. Your card was not changed again.'],
  },
  simulation: {
    label: 'Simulation.',
    pay: "This gym uses gymgate's simulated payment processor: no money moves and no card or bank account is charged. Choose what the bank answers.",
    card: "This gym uses gymgate's simulated payment processor: no money moves and no real card is saved. Choose a test card; it decides what the bank answers when it is charged.",
  },
  pay: {
    title: (gym) => `Pay ${gym}`,
    invoiceOf: (member, invoice) => `${member}, invoice ${invoice}`,
    offline: 'Online payment is not available right now. Nothing was charged; please pay at the front desk.',
    byCard: 'Pay by card',
    byPromptPay: 'Pay with PromptPay',
    enterCard: 'Enter your card details.',
    scanPromptPay: 'Pay, then scan the PromptPay QR code with your banking app.',
    payButton: (amount) => `Pay ${amount}`,
    notThrough: 'The payment did not go through.',
    scriptMissing: 'The form could not be loaded. Nothing was charged; please reload the page.',
    simulateScan: 'Simulate scanning the PromptPay QR code',
    lastTry: (reason) => `Last try: ${reason} Nothing was charged; you can try again.`,
    needsAction: 'Your bank asks you to confirm this payment.',
    declined: 'The payment was declined.',
    outcomes: {
      success: 'Payment succeeds',
      generic_decline: 'Card declined',
      insufficient_funds: 'Insufficient funds',
      expired_card: 'Expired card',
      authentication_required: 'Bank asks for authentication',
    },
    received: ['Payment received', (member, invoice, amount) => `Thank you, ${member}. Invoice ${invoice} (${amount}) is paid.`],
    processing: ['Payment processing', (amount) => `Your payment of ${amount} is being processed. Your gym will let you know when it has arrived.`],
    notCompleted: ['Payment not completed', (reason) => `${reason} Nothing was charged.`],
    declinedOutcome: ['Payment declined', 'Nothing was charged. The invoice is still open.'],
    tryAgain: 'Try again',
  },
  card: {
    title: (gym) => `Update your card for ${gym}`,
    describe: (card) => (card.last4 ? `${brandName(card.brand, 'Card')} ending ${card.last4}` : brandName(card.brand, 'Card')),
    onFile: (described) => `Card on file: ${described}.`,
    noneOnFile: 'No card on file.',
    explain: 'The card you save here pays for your membership from now on; anything still owed is charged to it straight away.',
    enterNew: "Enter your new card's details.",
    save: 'Save card',
    notSaved: 'The card could not be saved.',
    lastTry: (reason) => `Last try: ${reason} Your card was not changed; you can try again.`,
    choice: (described, outcome) => `${described}: ${outcome.toLowerCase()}`,
    saved: ['Card saved', (member, described) => `Thank you, ${member}. ${described ? `Your ${described} is saved` : 'Your new card is saved'}; your membership is charged to it from now on.`],
    invoicePaid: (invoice, amount) => `Invoice ${invoice} (${amount}) is paid with this card.`,
    invoiceOpen: (invoice, amount, why) => `Invoice ${invoice} (${amount}) is still open: ${why ?? 'it has not been paid yet.'} Your gym will let you know how to pay it.`,
    nothingLeft: 'Nothing is left to pay.',
    processing: ['Card being confirmed', 'Your bank is still confirming the card. It becomes your membership card as soon as it is confirmed; there is nothing more to do.'],
    failed: ['Card not saved', 'Your card was not changed.'],
    tryAgain: 'Try again',
  },
  // English pages keep the processor's own message, which is already in English.
  declineReason: () => null,
};

const TH_DECLINES: Record<string, string> = {
  insufficient_funds: 'ยอดเงินในบัตรไม่เพียงพอ',
  expired_card: 'บัตรหมดอายุแล้ว',
  incorrect_cvc: 'รหัสความปลอดภัยของบัตรไม่ถูกต้อง',
  incorrect_number: 'หมายเลขบัตรไม่ถูกต้อง',
  authentication_required: 'ธนาคารขอให้ยืนยันการชำระเงินนี้',
  processing_error: 'เกิดข้อผิดพลาดระหว่างดำเนินการ โปรดลองอีกครั้ง',
};

const TH: PageCopy = {
  locale: 'th',
  language: 'ภาษา',
  languageNames: { en: 'English', th: 'ไทย' },
  stripeLocale: 'th',
  money: moneyIn('th'),
  notices: {
    payUnavailable: ['ชำระเงินออนไลน์ไม่ได้', 'ขณะนี้ยังชำระเงินออนไลน์ไม่ได้ ไม่มีการเรียกเก็บเงิน โปรดชำระที่เคาน์เตอร์'],
    payUnreachable: ['ชำระเงินออนไลน์ไม่ได้', 'ติดต่อระบบชำระเงินไม่ได้ ไม่มีการเรียกเก็บเงิน โปรดลองใหม่อีกครั้งในอีกสักครู่'],
    payNotStarted: ['ชำระเงินออนไลน์ไม่ได้', 'เริ่มการชำระเงินไม่ได้ ไม่มีการเรียกเก็บเงิน โปรดติดต่อเคาน์เตอร์'],
    payOtherService: ['ชำระเงินออนไลน์ไม่ได้', 'การชำระเงินนี้เริ่มไว้กับระบบชำระเงินอื่น ไม่มีการเรียกเก็บเงินเพิ่ม โปรดติดต่อเคาน์เตอร์'],
    payAmountChanged: ['ยอดเงินเปลี่ยนไป', 'ยอดของใบแจ้งหนี้นี้เปลี่ยนไปหลังจากเริ่มชำระเงิน ไม่มีการเรียกเก็บเงิน โปรดติดต่อเคาน์เตอร์'],
    tooManyRequests: ['โปรดรอสักครู่', 'มีการเปิดหน้านี้บ่อยเกินไป ไม่มีการเรียกเก็บเงินหรือเปลี่ยนแปลงใด ๆ โปรดลองใหม่อีกครั้งในอีกไม่กี่นาที'],
    payOtherMethod: ['ลิงก์นี้ถูกใช้แล้ว', 'ลิงก์นี้ถูกใช้เริ่มการชำระเงินด้วยวิธีอื่นไปแล้ว ไม่มีการเรียกเก็บเงินเพิ่ม เปิดลิงก์อีกครั้งเพื่อชำระให้เสร็จ'],
    promptpayThbOnly: ['ใช้พร้อมเพย์ไม่ได้', 'พร้อมเพย์ใช้ได้เฉพาะการชำระเงินเป็นเงินบาทเท่านั้น'],
    payNothingToSimulate: ['ไม่มีให้ใช้', 'ยิมนี้รับชำระเงินจริง จึงไม่มีอะไรให้จำลอง'],
    unknownOutcome: ['ไม่รู้จักผลลัพธ์นี้', 'ผลลัพธ์นี้ไม่ใช่ผลลัพธ์จำลองที่มีให้เลือก ไม่มีการเรียกเก็บเงิน'],
    cardUnavailable: ['อัปเดตบัตรออนไลน์ไม่ได้', 'ขณะนี้ยังอัปเดตบัตรออนไลน์ไม่ได้ บัตรของคุณไม่ได้เปลี่ยน โปรดติดต่อเคาน์เตอร์'],
    cardUnreachable: ['อัปเดตบัตรออนไลน์ไม่ได้', 'ติดต่อระบบชำระเงินไม่ได้ บัตรของคุณไม่ได้เปลี่ยน โปรดลองใหม่อีกครั้งในอีกสักครู่'],
    cardNothingToSimulate: ['ไม่มีให้ใช้', 'ยิมนี้บันทึกบัตรจริง จึงไม่มีอะไรให้จำลอง'],
    unknownCard: ['ไม่รู้จักบัตรนี้', 'บัตรนี้ไม่ใช่บัตรทดสอบที่มีให้เลือก บัตรของคุณไม่ได้เปลี่ยน'],
    cardNotSaved: ['บันทึกบัตรไม่สำเร็จ', 'บันทึกบัตรไม่ได้ บัตรของคุณไม่ได้เปลี่ยน โปรดติดต่อเคาน์เตอร์'],
  },
  payGone: {
    unknown: ['ลิงก์ไม่ถูกต้อง', 'ลิงก์ชำระเงินนี้ไม่ถูกต้อง โปรดใช้ข้อความล่าสุดจากยิมของคุณ หรือติดต่อเคาน์เตอร์'],
    expired: ['ลิงก์หมดอายุ', 'ลิงก์ชำระเงินนี้หมดอายุแล้ว ไม่มีการเรียกเก็บเงิน ยิมจะส่งลิงก์ใหม่ให้คุณ หรือชำระที่เคาน์เตอร์ได้'],
    used: ['ลิงก์นี้ถูกใช้แล้ว', 'ลิงก์ชำระเงินนี้ถูกใช้ไปแล้ว ไม่มีการเรียกเก็บเงินเพิ่ม'],
    settled: ['ไม่มียอดค้างชำระ', 'ใบแจ้งหนี้นี้ไม่มียอดค้างชำระแล้ว ขอบคุณ'],
  },
  cardGone: {
    unknown: ['ลิงก์ไม่ถูกต้อง', 'ลิงก์อัปเดตบัตรนี้ไม่ถูกต้อง บัตรของคุณไม่ได้เปลี่ยน โปรดใช้ข้อความล่าสุดจากยิมของคุณ หรือติดต่อเคาน์เตอร์'],
    expired: ['ลิงก์หมดอายุ', 'ลิงก์อัปเดตบัตรนี้หมดอายุแล้ว บัตรของคุณไม่ได้เปลี่ยน ยิมจะส่งลิงก์ใหม่ให้คุณ หรืออัปเดตบัตรที่เคาน์เตอร์ได้'],
    used: ['ลิงก์นี้ถูกใช้แล้ว', 'มีการบันทึกบัตรด้วยลิงก์นี้ไปแล้ว บัตรของคุณไม่ได้เปลี่ยนอีก'],
  },
  simulation: {
    label: 'โหมดจำลอง',
    pay: 'ยิมนี้ใช้ระบบชำระเงินจำลองของ gymgate ไม่มีการโอนเงินจริง และไม่มีการเรียกเก็บเงินจากบัตรหรือบัญชีธนาคารใดๆ เลือกคำตอบที่ธนาคารจะให้',
    card: 'ยิมนี้ใช้ระบบชำระเงินจำลองของ gymgate ไม่มีการโอนเงินจริง และไม่มีการบันทึกบัตรจริง เลือกบัตรทดสอบ ซึ่งจะกำหนดว่าธนาคารตอบอย่างไรเมื่อเรียกเก็บเงิน',
  },
  pay: {
    title: (gym) => `ชำระเงินให้ ${gym}`,
    invoiceOf: (member, invoice) => `คุณ${member} ใบแจ้งหนี้ ${invoice}`,
    offline: 'ขณะนี้ยังชำระเงินออนไลน์ไม่ได้ ไม่มีการเรียกเก็บเงิน โปรดชำระที่เคาน์เตอร์',
    byCard: 'ชำระด้วยบัตร',
    byPromptPay: 'ชำระด้วยพร้อมเพย์',
    enterCard: 'กรอกข้อมูลบัตรของคุณ',
    scanPromptPay: 'กดชำระเงิน แล้วสแกนคิวอาร์โค้ดพร้อมเพย์ด้วยแอปธนาคารของคุณ',
    payButton: (amount) => `ชำระ ${amount}`,
    notThrough: 'การชำระเงินไม่สำเร็จ',
    scriptMissing: 'โหลดแบบฟอร์มไม่ได้ ไม่มีการเรียกเก็บเงิน โปรดโหลดหน้านี้อีกครั้ง',
    simulateScan: 'จำลองการสแกนคิวอาร์โค้ดพร้อมเพย์',
    lastTry: (reason) => `ครั้งล่าสุด: ${reason} ไม่มีการเรียกเก็บเงิน ลองใหม่ได้`,
    needsAction: 'ธนาคารขอให้คุณยืนยันการชำระเงินนี้',
    declined: 'ธนาคารปฏิเสธการชำระเงิน',
    outcomes: {
      success: 'ชำระเงินสำเร็จ',
      generic_decline: 'บัตรถูกปฏิเสธ',
      insufficient_funds: 'ยอดเงินไม่เพียงพอ',
      expired_card: 'บัตรหมดอายุ',
      authentication_required: 'ธนาคารขอให้ยืนยันตัวตน',
    },
    received: ['ได้รับชำระเงินแล้ว', (member, invoice, amount) => `ขอบคุณ คุณ${member} ใบแจ้งหนี้ ${invoice} (${amount}) ชำระเรียบร้อยแล้ว`],
    processing: ['กำลังดำเนินการชำระเงิน', (amount) => `การชำระเงิน ${amount} ของคุณกำลังดำเนินการ ยิมจะแจ้งให้ทราบเมื่อได้รับเงินแล้ว`],
    notCompleted: ['การชำระเงินยังไม่เสร็จ', (reason) => `${reason} ไม่มีการเรียกเก็บเงิน`],
    declinedOutcome: ['การชำระเงินถูกปฏิเสธ', 'ไม่มีการเรียกเก็บเงิน ใบแจ้งหนี้ยังค้างชำระอยู่'],
    tryAgain: 'ลองอีกครั้ง',
  },
  card: {
    title: (gym) => `อัปเดตบัตรสำหรับ ${gym}`,
    describe: (card) => (card.last4 ? `${brandName(card.brand, 'บัตร')} ลงท้ายด้วย ${card.last4}` : brandName(card.brand, 'บัตร')),
    onFile: (described) => `บัตรที่บันทึกไว้: ${described}`,
    noneOnFile: 'ยังไม่มีบัตรที่บันทึกไว้',
    explain: 'บัตรที่คุณบันทึกที่นี่จะใช้ชำระค่าสมาชิกต่อจากนี้ และยอดที่ยังค้างอยู่จะเรียกเก็บจากบัตรนี้ทันที',
    enterNew: 'กรอกข้อมูลบัตรใหม่ของคุณ',
    save: 'บันทึกบัตร',
    notSaved: 'บันทึกบัตรไม่ได้',
    lastTry: (reason) => `ครั้งล่าสุด: ${reason} บัตรของคุณไม่ได้เปลี่ยน ลองใหม่ได้`,
    choice: (described, outcome) => `${described}: ${outcome}`,
    saved: ['บันทึกบัตรแล้ว', (member, described) => `ขอบคุณ คุณ${member} ${described ? `บันทึก${described}แล้ว` : 'บันทึกบัตรใหม่ของคุณแล้ว'} ค่าสมาชิกจะเรียกเก็บจากบัตรนี้ต่อจากนี้`],
    invoicePaid: (invoice, amount) => `ใบแจ้งหนี้ ${invoice} (${amount}) ชำระด้วยบัตรนี้แล้ว`,
    invoiceOpen: (invoice, amount, why) => `ใบแจ้งหนี้ ${invoice} (${amount}) ยังค้างชำระ: ${why ?? 'ยังไม่ได้ชำระ'} ยิมจะแจ้งวิธีชำระให้คุณทราบ`,
    nothingLeft: 'ไม่มียอดค้างชำระ',
    processing: ['กำลังยืนยันบัตร', 'ธนาคารยังยืนยันบัตรอยู่ เมื่อยืนยันแล้วบัตรนี้จะใช้ชำระค่าสมาชิกทันที คุณไม่ต้องทำอะไรเพิ่ม'],
    failed: ['บันทึกบัตรไม่สำเร็จ', 'บัตรของคุณไม่ได้เปลี่ยน'],
    tryAgain: 'ลองอีกครั้ง',
  },
  // The processor writes in English: a Thai page names the decline itself where it knows the code.
  declineReason: (code) => (code ? (TH_DECLINES[code] ?? 'ธนาคารปฏิเสธการชำระเงิน') : 'ธนาคารปฏิเสธการชำระเงิน'),
};

export const PAGE_COPY: Record<PageLocale, PageCopy> = { en: EN, th: TH };

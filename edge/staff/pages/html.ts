// The layout of the staff pages: server-rendered HTML (hono/html escapes every value), no script,
// a language switch, and headers that keep the page out of frames, caches and referrers.
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { AppEnv } from '../../env.ts';
import { isStaffLocale, STAFF_COPY, STAFF_LOCALES, type StaffCopy } from './copy.ts';

/** Shared with the member pages: a language chosen on one is kept on the others. */
const LANGUAGE_COOKIE = 'gymgate_lang';

export type StaffView = { t: StaffCopy; path: string };

function browserLocale(header: string | undefined) {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0]!.trim().toLowerCase().split('-')[0];
    if (isStaffLocale(tag)) return tag;
  }
  return null;
}

/** The page's language: the switch's ?lang=, else the one remembered, else the browser's, else English. */
export function staffView(c: Context<AppEnv>): StaffView {
  const query = c.req.query('lang');
  const cookie = getCookie(c, LANGUAGE_COOKIE);
  const locale = isStaffLocale(query) ? query : isStaffLocale(cookie) ? cookie : (browserLocale(c.req.header('accept-language')) ?? 'en');
  if (isStaffLocale(query)) {
    const secure = new URL(c.req.url).protocol === 'https:' ? '; Secure' : '';
    c.header('set-cookie', `${LANGUAGE_COOKIE}=${query}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax${secure}`, { append: true });
  }
  return { t: STAFF_COPY[locale], path: c.req.path };
}

type Html = HtmlEscapedString | Promise<HtmlEscapedString> | '';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:30rem;margin:1.5rem auto 3rem;padding:0 1rem;color:#222;overflow-wrap:anywhere}
h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem;font-weight:600}.hint{font-size:.9rem;color:#444;margin:.2rem 0}
input{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box}button{font-size:1.1rem;padding:.6rem 1.2rem;margin:1rem 0 .3rem;width:100%}
.error{color:#a00;border-left:4px solid #a00;padding-left:.6rem}.language{text-align:right;font-size:.95rem}
.language a{color:#0645ad;padding:.4rem .2rem;display:inline-block}.language a[aria-current]{color:#222;font-weight:600;text-decoration:none}
code{font-size:1.05rem;background:#f3f3f3;padding:.1rem .3rem}ul.codes{columns:2;font-family:monospace;font-size:1.1rem}a{color:#0645ad}`;

export function staffPage(c: Context<AppEnv>, v: StaffView, title: string, body: Html, status: 200 | 400 | 401 | 403 | 404 | 410 | 429 = 200) {
  const switchLinks = STAFF_LOCALES.map(
    (l) => html`<a href="${v.path}?lang=${l}" lang="${l}" hreflang="${l}" ${l === v.t.locale ? html`aria-current="page"` : ''}>${v.t.languageNames[l]}</a>`,
  );
  c.header('cache-control', 'no-store');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
  c.header('x-content-type-options', 'nosniff');
  c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  return c.html(
    html`<!doctype html><html lang="${v.t.locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style>${STYLE}</style></head>
<body><nav class="language" aria-label="${v.t.language}">${switchLinks[0]} · ${switchLinks[1]}</nav><main><h1>${title}</h1>${body}</main></body></html>`,
    status,
  );
}

/** An error line a screen reader announces. */
export const errorLine = (message: string | null) => (message ? html`<p class="error" role="alert">${message}</p>` : '');

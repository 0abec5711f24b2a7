// The layout of the Worker's own pages for people (staff, members): server-rendered HTML (hono/html
// escapes every value), no script but a page's own module where it needs one, a language switch, and headers that keep the page out of
// frames, caches and referrers. Each page family brings its own words in English and Thai.
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { AppEnv } from '../env.ts';

export const PAGE_LANGUAGES = ['en', 'th'] as const;
export type PageLanguage = (typeof PAGE_LANGUAGES)[number];
export const isPageLanguage = (value: unknown): value is PageLanguage => (PAGE_LANGUAGES as readonly unknown[]).includes(value);
const LANGUAGE_NAMES: Record<PageLanguage, string> = { en: 'English', th: 'ไทย' };
const LANGUAGE_LABEL: Record<PageLanguage, string> = { en: 'Language', th: 'ภาษา' };

/** Shared with the pay-now and update-card pages: a language chosen on one is kept on the others. */
const LANGUAGE_COOKIE = 'gymgate_lang';

function browserLanguage(header: string | undefined) {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0]!.trim().toLowerCase().split('-')[0];
    if (isPageLanguage(tag)) return tag;
  }
  return null;
}

/**
 * The page's language: the switch's ?lang= (remembered for a year), else the one remembered, else
 * `preferred` (a member's own locale), else the browser's, else English.
 */
export function pageLanguage(c: Context<AppEnv>, preferred?: string | null): PageLanguage {
  const query = c.req.query('lang');
  if (isPageLanguage(query)) {
    const secure = new URL(c.req.url).protocol === 'https:' ? '; Secure' : '';
    c.header('set-cookie', `${LANGUAGE_COOKIE}=${query}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax${secure}`, { append: true });
    return query;
  }
  const cookie = getCookie(c, LANGUAGE_COOKIE);
  if (isPageLanguage(cookie)) return cookie;
  if (isPageLanguage(preferred)) return preferred;
  return browserLanguage(c.req.header('accept-language')) ?? 'en';
}

export type Html = HtmlEscapedString | Promise<HtmlEscapedString> | '';
export type PageStatus = 200 | 400 | 401 | 403 | 404 | 410 | 429;

const STYLE = `body{font-family:system-ui,sans-serif;max-width:30rem;margin:1.5rem auto 3rem;padding:0 1rem;color:#222;overflow-wrap:anywhere}
h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem;font-weight:600}.hint{font-size:.9rem;color:#444;margin:.2rem 0}
input{font-size:1.1rem;padding:.5rem;width:100%;box-sizing:border-box}button{font-size:1.1rem;padding:.6rem 1.2rem;margin:1rem 0 .3rem;width:100%}
.error{color:#a00;border-left:4px solid #a00;padding-left:.6rem}.language{text-align:right;font-size:.95rem}
.language a{color:#0645ad;padding:.4rem .2rem;display:inline-block}.language a[aria-current]{color:#222;font-weight:600;text-decoration:none}
code{font-size:1.05rem;background:#f3f3f3;padding:.1rem .3rem}ul.codes{columns:2;font-family:monospace;font-size:1.1rem}a{color:#0645ad}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .3rem;border-bottom:1px solid #ddd}td.amount{text-align:right}`;

/**
 * A whole page: `path` is where the language switch reloads (its query dropped: tokens stay out of
 * it); `script`, a module of this Worker's the page needs (the only script it may run or fetch with).
 */
export function htmlPage(c: Context<AppEnv>, language: PageLanguage, title: string, body: Html, status: PageStatus = 200, path = c.req.path, script?: string) {
  const links = PAGE_LANGUAGES.map(
    (l) => html`<a href="${path}?lang=${l}" lang="${l}" hreflang="${l}" ${l === language ? html`aria-current="page"` : ''}>${LANGUAGE_NAMES[l]}</a>`,
  );
  c.header('cache-control', 'no-store');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
  c.header('x-content-type-options', 'nosniff');
  const scripting = script ? "; script-src 'self'; connect-src 'self'" : '';
  c.header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'${scripting}`);
  return c.html(
    html`<!doctype html><html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style>${STYLE}</style>${script ? html`<script type="module" src="${script}"></script>` : ''}</head>
<body><nav class="language" aria-label="${LANGUAGE_LABEL[language]}">${links[0]} · ${links[1]}</nav><main><h1>${title}</h1>${body}</main></body></html>`,
    status,
  );
}

/** An error line a screen reader announces. */
export const errorLine = (message: string | null) => (message ? html`<p class="error" role="alert">${message}</p>` : '');

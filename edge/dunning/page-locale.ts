// Which language the pay-now and update-card pages speak. The member's own choice wins: a
// `?lang=` on the link (the language switch on every page) is remembered in a cookie, so the
// choice survives form posts and Stripe's return. Without a choice: the member's locale (the
// language of their notices), else the browser's Accept-Language, else English.
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { AppEnv } from '../env.ts';
import { isPageLocale, PAGE_COPY, type PageCopy, type PageLocale } from './page-copy.ts';

export const LANGUAGE_COOKIE = 'gymgate_lang';

/** What a page needs to speak: its words, and the address its language switch reloads. */
export type View = { t: PageCopy; here: string };

function browserLocale(header: string | undefined): PageLocale | null {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0]!.trim().toLowerCase().split('-')[0];
    if (isPageLocale(tag)) return tag;
  }
  return null;
}

/** The language the member chose on a page: the switch's `?lang=`, or the one remembered from it. */
function chosenLocale(c: Context<AppEnv>): PageLocale | null {
  const query = c.req.query('lang');
  if (isPageLocale(query)) return query;
  const cookie = getCookie(c, LANGUAGE_COOKIE);
  return isPageLocale(cookie) ? cookie : null;
}

/**
 * The address the language switch reloads: this page for a GET (its query kept), the link's own
 * page for a form post (`/pay/{token}/simulate` → `/pay/{token}`), which shows where the member is.
 */
function switchTarget(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  url.searchParams.delete('lang');
  if (c.req.method !== 'GET') return url.pathname.replace(/\/simulate$/, '');
  return `${url.pathname}${url.search}`;
}

export function viewFor(c: Context<AppEnv>, memberLocale?: string | null): View {
  const locale = chosenLocale(c) ?? (isPageLocale(memberLocale) ? memberLocale : null) ?? browserLocale(c.req.header('accept-language')) ?? 'en';
  return { t: PAGE_COPY[locale], here: switchTarget(c) };
}

/** Remembers a `?lang=` choice for this browser (a year, these pages only). */
export const rememberLanguage: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  const query = c.req.query('lang');
  if (!isPageLocale(query)) return;
  const secure = new URL(c.req.url).protocol === 'https:' ? '; Secure' : '';
  c.res.headers.append('set-cookie', `${LANGUAGE_COOKIE}=${query}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax${secure}`);
};

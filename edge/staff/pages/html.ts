// The staff pages' view: their words in the page's language, on the Worker's shared page layout.
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { errorLine, htmlPage, pageLanguage, type Html, type PageStatus } from '../../lib/html-page.ts';
import { STAFF_COPY, type StaffCopy } from './copy.ts';

export { errorLine };

export type StaffView = { t: StaffCopy; path: string };

export function staffView(c: Context<AppEnv>): StaffView {
  return { t: STAFF_COPY[pageLanguage(c)], path: c.req.path };
}

export const staffPage = (c: Context<AppEnv>, v: StaffView, title: string, body: Html, status: PageStatus = 200, script?: string) => htmlPage(c, v.t.locale, title, body, status, v.path, script);

// Calendar dates of billing in a subscription's time zone. core/billing works on 'YYYY-MM-DD'
// dates; the doors and the members table work on epoch milliseconds. A date stands for the
// instant its day starts in the zone (validUntil is exclusive: entry until that instant).
//
// Organisations have no time zone of their own. A subscription takes the time zone of its home
// site (the `homeSiteId` given when it is created, by default the organisation's first site) and
// UTC when the organisation has no site. It keeps that zone: a site that changes zone later does not
// move the dates of subscriptions already running.
import type { CalendarDate } from '../../core/billing/periods.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function wallClock(ms: number, timeZone: string): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { y: parts.year ?? 1970, m: parts.month ?? 1, d: parts.day ?? 1, h: parts.hour ?? 0, mi: parts.minute ?? 0, s: parts.second ?? 0 };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The calendar date of an instant in the zone. */
export function localDate(ms: number, timeZone: string): CalendarDate {
  const w = wallClock(ms, timeZone);
  return `${pad(w.y, 4)}-${pad(w.m)}-${pad(w.d)}`;
}

/** Offset of the zone at an instant: local wall clock minus UTC, ms. */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

/** The instant a calendar date starts in the zone (the first instant of that local day). */
export function startOfDay(date: CalendarDate, timeZone: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  let t = utcMidnight - offsetAt(utcMidnight, timeZone);
  t = utcMidnight - offsetAt(t, timeZone);
  // Where midnight does not exist (a clock change at 00:00), the day starts at the first hour after it.
  for (let i = 0; i < 4 && localDate(t, timeZone) < date; i++) t += 3_600_000;
  return t;
}

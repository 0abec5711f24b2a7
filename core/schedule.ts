// Weekly time windows evaluated in a site's own time zone, with closures (holidays) that
// override them. Pure: the instant and the zone's UTC offsets are arguments; the offset cache
// only remembers what Intl already computed.
import { z } from 'zod';

const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-4]):[0-5]\d$/, 'must be a time of day as HH:MM (24:00 allowed as an end)')
  .refine((s) => s <= '24:00', 'must not be later than 24:00');

/** ISO weekday numbers: 1 = Monday … 7 = Sunday. */
export const Weekday = z.number().int().min(1).max(7);

export const TimeWindow = z
  .object({
    days: z.array(Weekday).min(1, 'must name at least one weekday (1 = Monday … 7 = Sunday)'),
    start: hhmm,
    end: hhmm,
  })
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] })
  .meta({ id: 'TimeWindow', description: 'Open from start to end on the given weekdays; an end before the start runs past midnight' });
export type TimeWindow = z.infer<typeof TimeWindow>;

export const Closure = z
  .object({
    date: z.iso.date(),
    /** Windows that apply that day instead of the weekly ones; empty or absent means closed all day. */
    windows: z.array(TimeWindow).optional(),
    note: z.string().max(200).optional(),
  })
  .meta({ id: 'Closure' });
export type Closure = z.infer<typeof Closure>;

export const Schedule = z
  .object({
    /** No windows means always open (24/7), apart from closures. */
    windows: z.array(TimeWindow).max(50),
    closures: z.array(Closure).max(366).default([]),
  })
  .meta({ id: 'Schedule' });
export type Schedule = z.infer<typeof Schedule>;

export type LocalTime = { date: string; weekday: number; minute: number };

const minutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

// UTC offsets change at most a few times a year; remember them per zone and hour.
const HOUR = 3_600_000;
const offsetCache = new Map<string, Map<number, number>>();
const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneOffsetMs(at: number, timeZone: string): number {
  const hour = Math.floor(at / HOUR);
  let zone = offsetCache.get(timeZone);
  if (!zone) offsetCache.set(timeZone, (zone = new Map()));
  const cached = zone.get(hour);
  if (cached !== undefined) return cached;
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(hour * HOUR)).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offset = asUtc - hour * HOUR;
  if (zone.size > 4096) zone.clear();
  zone.set(hour, offset);
  return offset;
}

/** Wall-clock date, ISO weekday and minute of the day at `at` in `timeZone`. */
export function localTime(at: number, timeZone: string): LocalTime {
  const local = new Date(at + zoneOffsetMs(at, timeZone));
  const day = local.getUTCDay();
  return {
    date: local.toISOString().slice(0, 10),
    weekday: day === 0 ? 7 : day,
    minute: local.getUTCHours() * 60 + local.getUTCMinutes(),
  };
}

/** `at` as the wall clock in `timeZone` reads it, e.g. "2026-12-07 09:30 (Asia/Bangkok)": what a member or desk sees on the gym's clock. */
export function localStamp(at: number, timeZone: string): string {
  return `${new Date(at + zoneOffsetMs(at, timeZone)).toISOString().slice(0, 16).replace('T', ' ')} (${timeZone})`;
}

const previousDay = (t: LocalTime): { date: string; weekday: number } => {
  const d = new Date(`${t.date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return { date: d.toISOString().slice(0, 10), weekday: t.weekday === 1 ? 7 : t.weekday - 1 };
};

function windowsFor(schedule: Schedule, date: string, weekday: number): { windows: TimeWindow[]; closure: Closure | undefined } {
  const closure = schedule.closures.find((c) => c.date === date);
  if (closure) return { windows: closure.windows ?? [], closure };
  return { windows: schedule.windows.filter((w) => w.days.includes(weekday)), closure: undefined };
}

export type ScheduleCheck = { open: boolean; closure?: Closure };

/** Whether the schedule is open at the given local time. */
export function scheduleOpen(schedule: Schedule, t: LocalTime): ScheduleCheck {
  const today = windowsFor(schedule, t.date, t.weekday);
  if (!today.closure && schedule.windows.length === 0) return { open: true };
  for (const w of today.windows) {
    const start = minutes(w.start);
    const end = minutes(w.end);
    if (start < end ? t.minute >= start && t.minute < end : t.minute >= start) return { open: true };
  }
  // A window that started yesterday and runs past midnight (e.g. 22:00–02:00).
  const prev = previousDay(t);
  const yesterday = windowsFor(schedule, prev.date, prev.weekday);
  for (const w of yesterday.windows) {
    const start = minutes(w.start);
    const end = minutes(w.end);
    if (start > end && t.minute < end) return { open: true };
  }
  return today.closure ? { open: false, closure: today.closure } : { open: false };
}

import { describe, expect, it } from 'vitest';
import { localStamp, localTime, Schedule, scheduleOpen } from '../../core/schedule.ts';

const bangkok = (iso: string) => localTime(Date.parse(iso), 'Asia/Bangkok');

describe('localTime', () => {
  it('turns an instant into the site’s wall clock', () => {
    // 2026-11-25 23:30 UTC is Thursday 06:30 in Bangkok (UTC+7).
    expect(bangkok('2026-11-25T23:30:00Z')).toEqual({ date: '2026-11-26', weekday: 4, minute: 6 * 60 + 30 });
  });

  it('follows daylight saving time changes', () => {
    // Berlin: 2026-03-29 02:00 local jumps to 03:00 (CET → CEST).
    expect(localTime(Date.parse('2026-03-29T00:30:00Z'), 'Europe/Berlin').minute).toBe(60 + 30);
    expect(localTime(Date.parse('2026-03-29T01:30:00Z'), 'Europe/Berlin').minute).toBe(3 * 60 + 30);
  });
});

describe('localStamp', () => {
  it("writes an instant as the site's wall clock, naming the zone", () => {
    expect(localStamp(Date.parse('2026-11-25T23:30:00Z'), 'Asia/Bangkok')).toBe('2026-11-26 06:30 (Asia/Bangkok)');
    // Either side of Berlin's spring change.
    expect(localStamp(Date.parse('2026-03-29T00:30:00Z'), 'Europe/Berlin')).toBe('2026-03-29 01:30 (Europe/Berlin)');
    expect(localStamp(Date.parse('2026-03-29T01:30:00Z'), 'Europe/Berlin')).toBe('2026-03-29 03:30 (Europe/Berlin)');
  });
});

describe('scheduleOpen', () => {
  const staffed = Schedule.parse({
    windows: [
      { days: [1, 2, 3, 4, 5], start: '06:00', end: '22:00' },
      { days: [6, 7], start: '08:00', end: '18:00' },
    ],
    closures: [{ date: '2026-12-31', windows: [{ days: [4], start: '08:00', end: '12:00' }], note: 'New Year’s Eve' }, { date: '2027-01-01' }],
  });

  it('opens inside weekday and weekend windows only', () => {
    expect(scheduleOpen(staffed, bangkok('2026-11-25T23:30:00Z')).open).toBe(true); // Thu 06:30
    expect(scheduleOpen(staffed, bangkok('2026-11-25T22:30:00Z')).open).toBe(false); // Thu 05:30
    expect(scheduleOpen(staffed, bangkok('2026-11-28T00:30:00Z')).open).toBe(false); // Sat 07:30
    expect(scheduleOpen(staffed, bangkok('2026-11-28T01:30:00Z')).open).toBe(true); // Sat 08:30
    expect(scheduleOpen(staffed, bangkok('2026-11-25T15:00:00Z')).open).toBe(false); // Wed 22:00, end is exclusive
  });

  it('applies closures over the weekly windows', () => {
    expect(scheduleOpen(staffed, bangkok('2026-12-31T03:00:00Z')).open).toBe(true); // 10:00 on the short day
    expect(scheduleOpen(staffed, bangkok('2026-12-31T07:00:00Z'))).toMatchObject({ open: false, closure: { note: 'New Year’s Eve' } });
    expect(scheduleOpen(staffed, bangkok('2027-01-01T05:00:00Z')).open).toBe(false); // Friday noon, closed all day
  });

  it('treats no windows as 24/7 and runs windows past midnight', () => {
    const always = Schedule.parse({ windows: [] });
    expect(scheduleOpen(always, bangkok('2026-11-25T20:00:00Z')).open).toBe(true);
    const night = Schedule.parse({ windows: [{ days: [5], start: '22:00', end: '02:00' }] });
    expect(scheduleOpen(night, bangkok('2026-11-27T16:00:00Z')).open).toBe(true); // Fri 23:00
    expect(scheduleOpen(night, bangkok('2026-11-27T18:30:00Z')).open).toBe(true); // Sat 01:30, from Friday's window
    expect(scheduleOpen(night, bangkok('2026-11-27T19:30:00Z')).open).toBe(false); // Sat 02:30
    expect(scheduleOpen(night, bangkok('2026-11-28T16:00:00Z')).open).toBe(false); // Sat 23:00
  });

  it('refuses malformed windows with the field named', () => {
    const r = Schedule.safeParse({ windows: [{ days: [8], start: '25:00', end: '06:00' }] });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['windows.0.days.0', 'windows.0.start']));
  });
});

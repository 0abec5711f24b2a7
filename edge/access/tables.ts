// Tables of access: sites, their doors and the access profiles plans grant.
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { DEFAULT_MAX_OFFLINE_SECONDS, type DoorMode } from '../../core/entitlement.ts';
import type { Closure, Schedule } from '../../core/schedule.ts';
import { createdAt } from '../db/columns.ts';
import { organisationRef } from '../organisation/tables.ts';

export const sites = sqliteTable(
  'sites',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    timezone: text('timezone').notNull(),
    /** Weekly windows when the site is staffed; doors may unlock and profiles may grant by them. */
    staffedHours: text('staffed_hours', { mode: 'json' }).$type<Schedule['windows'] | null>(),
    closures: text('closures', { mode: 'json' }).$type<Closure[]>().notNull().default([]),
    entitlementVersion: integer('entitlement_version').notNull().default(0),
    /** Content hash of the entitlement state at hashVersion (recomputed lazily, once per version). */
    entitlementHash: text('entitlement_hash'),
    hashVersion: integer('hash_version'),
    createdAt: createdAt(),
  },
  (t) => [index('sites_org').on(t.organisationId)],
);

export const doors = sqliteTable(
  'doors',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    group: text('door_group').notNull().default('general'),
    mode: text('mode').$type<DoorMode>().notNull().default('normal'),
    unlockDuringStaffedHours: integer('unlock_during_staffed_hours', { mode: 'boolean' }).notNull().default(false),
    antiPassbackSeconds: integer('anti_passback_seconds').notNull().default(0),
    maxOfflineSeconds: integer('max_offline_seconds').notNull().default(DEFAULT_MAX_OFFLINE_SECONDS),
    grantSeconds: integer('grant_seconds').notNull().default(5),
    createdAt: createdAt(),
  },
  (t) => [index('doors_site').on(t.siteId), index('doors_org').on(t.organisationId)],
);

export const accessProfiles = sqliteTable(
  'access_profiles',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    /** Site ids, or null for every site. */
    sites: text('sites', { mode: 'json' }).$type<string[] | null>(),
    doorGroups: text('door_groups', { mode: 'json' }).$type<string[]>().notNull(),
    scheduleKind: text('schedule_kind', { enum: ['always', 'staffed_hours', 'custom'] }).notNull(),
    schedule: text('schedule', { mode: 'json' }).$type<Schedule['windows'] | null>(),
    maxEntriesPerDay: integer('max_entries_per_day'),
    staff: integer('staff', { mode: 'boolean' }).notNull().default(false),
    lockdownAccess: integer('lockdown_access', { mode: 'boolean' }).notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index('access_profiles_org').on(t.organisationId)],
);

// Who may do what on the owner API: every operation declares the one permission it needs (its
// `x-permission` in /openapi.json), an API key holds a set of permissions, and the built-in roles
// are named sets of them. Pure data and a check, the same wherever it is asked.
import { z } from 'zod';

export const PERMISSIONS = [
  'organisation:read',
  'organisation:write',
  'api_keys:manage',
  'sites:read',
  'sites:write',
  'sites:lockdown',
  'doors:read',
  'doors:write',
  'access_profiles:read',
  'access_profiles:write',
  'access:explain',
  'members:read',
  'members:write',
  'credentials:read',
  'credentials:write',
  'bookings:read',
  'bookings:write',
  'devices:read',
  'devices:write',
  'commands:send',
  'checkins:read',
  'alarms:read',
  'plans:read',
  'plans:write',
  'subscriptions:read',
  'subscriptions:write',
  'invoices:read',
  'invoices:write',
  'payments:read',
  'payments:take',
  'payments:refund',
  'billing_settings:write',
  'dunning:read',
  'dunning:write',
  'notifications:read',
  'audit:read',
  'staff:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];
export const Permission = z.enum(PERMISSIONS).meta({ id: 'Permission', description: 'What an API key (or, later, a staff role) may do: resource:action' });

/**
 * What a route that is not on the owner API declares instead of a permission: who authenticates it
 * (`session`: any signed-in staff user, about their own account and sessions; `member`: a signed-in
 * member, about their own data).
 */
export const ROUTE_AUDIENCES = ['device', 'broker', 'public', 'session', 'member'] as const;
export type RouteAudience = (typeof ROUTE_AUDIENCES)[number];

const all = PERMISSIONS;
const reads = PERMISSIONS.filter((p) => p.endsWith(':read'));
const except = (...left: Permission[]) => all.filter((p) => !left.includes(p));

/** The built-in roles. An owner does everything; the others are the usual jobs at a gym. */
export const BUILT_IN_ROLES = {
  owner: all,
  // Everything but the organisation's own settings, its keys and its staff.
  manager: except('organisation:write', 'api_keys:manage', 'staff:manage'),
  // Checks members in, takes payments, sells, enrols cards, books classes; never refunds, edits
  // plans or prices, changes dunning policy, sees keys or locks a whole site down.
  front_desk: [
    'sites:read',
    'doors:read',
    'access_profiles:read',
    'access:explain',
    'members:read',
    'members:write',
    'credentials:read',
    'credentials:write',
    'bookings:read',
    'bookings:write',
    'commands:send',
    'checkins:read',
    'plans:read',
    'subscriptions:read',
    'subscriptions:write',
    'invoices:read',
    'payments:read',
    'payments:take',
    'notifications:read',
  ],
  // Their classes and the members booked on them.
  trainer: ['sites:read', 'members:read', 'bookings:read', 'bookings:write'],
  // Devices and doors, no billing.
  technician: ['sites:read', 'doors:read', 'doors:write', 'access:explain', 'devices:read', 'devices:write', 'commands:send', 'sites:lockdown', 'checkins:read', 'alarms:read'],
  // Reads everything, changes nothing (reporting, an accountant's integration).
  read_only: reads,
} as const satisfies Record<string, readonly Permission[]>;
export type BuiltInRole = keyof typeof BUILT_IN_ROLES;
export const BuiltInRole = z.enum(Object.keys(BUILT_IN_ROLES) as [BuiltInRole, ...BuiltInRole[]]).meta({ id: 'BuiltInRole' });

/** Whether a holder of `held` (null: an owner key from before scopes, which holds everything) may do what `needed` names. */
export const grants = (held: readonly Permission[] | null, needed: Permission): boolean => held === null || held.includes(needed);

/** A custom role's id (role_…): an organisation's own set of permissions, given to staff like a built-in role. */
export const isCustomRoleId = (role: string): boolean => role.startsWith('role_');

/**
 * The permissions of a person's roles, in the canonical order: built-in roles by name, custom
 * roles from `custom` (id → permissions; an id not there, a deleted role, gives nothing).
 */
export function permissionsOfRoles(roles: readonly string[], custom: ReadonlyMap<string, readonly Permission[]>): Permission[] {
  const wanted = new Set<string>(roles.flatMap((r) => (Object.hasOwn(BUILT_IN_ROLES, r) ? BUILT_IN_ROLES[r as BuiltInRole] : (custom.get(r) ?? []))));
  return PERMISSIONS.filter((p) => wanted.has(p));
}

/** The permissions of a list of roles and permissions, each named once, in the canonical order. */
export function expandScopes(scopes: ReadonlyArray<Permission | BuiltInRole>): Permission[] {
  const wanted = new Set<string>(scopes.flatMap((s) => (s in BUILT_IN_ROLES ? BUILT_IN_ROLES[s as BuiltInRole] : [s])));
  return PERMISSIONS.filter((p) => wanted.has(p));
}

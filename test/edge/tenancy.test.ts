// R4, the tenancy matrix: every operation of the OpenAPI document is called by organisation B
// (its owner key, its owner's staff session, and its door's device token for the device protocol) with organisation A's ids
// in the path, the query and the body. Nothing may read or change A's data: a successful answer
// never mentions an id of A's, every operation aimed at A's resources answers 4xx, and everything
// A reads through every GET operation is the same after the walk as before it.
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../core/permissions.ts';
import { generateSigningKey } from '../../edge/lib/signing.ts';
import { billingGym, bkk, saveSimulatedCard, subscribe, useBillingClock } from './billing-helpers.ts';
import { call, enrollDevice, gym, memberSession, staffSession } from './helpers.ts';

type Operation = { 'x-permission'?: string; parameters?: Array<{ name: string; in: string }> };
type Op = { method: string; path: string; permission: string; query: string[] };

useBillingClock();

/** Fields whose values change with time alone (or with B's calls to its own door), not with A's data. */
const VOLATILE = new Set(['lastUsedAt', 'lastSeenAt', 'online', 'serverTime', 'versionLag', 'mqttConnected', 'asOf']);
const stable = (value: unknown): unknown =>
  Array.isArray(value) ? value.map(stable) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).filter(([k]) => !VOLATILE.has(k)).map(([k, v]) => [k, stable(v)])) : value;

describe('R4 tenancy matrix', () => {
  it('organisation B, with every operation and A’s ids, reads and changes nothing of A’s', async () => {
    const signing = { COMMAND_SIGNING_KEY: await generateSigningKey(), MQTT_URL: inject('brokerUrl') };
    // A: a gym with one of everything the API has ids for.
    const a = await billingGym({}, { PAYMENT_PROVIDER: 'simulated', ...signing });
    await saveSimulatedCard(a, a.member.id);
    const subscription = await subscribe(a);
    const invoice = (await a.api('GET', `/v1/invoices?payerId=${a.member.id}`)).body.data[0];
    const payment = (await a.api('GET', `/v1/payments?payerId=${a.member.id}`)).body.data[0];
    const creditNote = (await a.api('POST', `/v1/invoices/${invoice.id}/credit-notes`, { lines: [{ invoiceLineId: invoice.lines[0].id, amount: 1_000 }], outcome: 'credit_balance', reason: 'other' })).body;
    const profile = (await a.api('POST', '/v1/access-profiles', { name: 'Day pass', sites: [a.site.id] })).body;
    const booking = (await a.api('POST', `/v1/members/${a.member.id}/bookings`, { doorGroup: 'studio', startsAt: new Date(bkk('2030-01-20')).toISOString(), endsAt: new Date(bkk('2030-01-20', '11:00')).toISOString() })).body;
    const pending = (await a.api('POST', `/v1/members/${a.member.id}/pending-items`, { kind: 'shop_sale', description: 'Cap', unitAmount: 2_000, currency: 'THB' })).body;
    const setup = (await a.api('POST', `/v1/members/${a.member.id}/payment-method/setup`, { returnUrl: 'https://gym.example/saved' })).body;
    const device = await enrollDevice(a.apiKey, a.site.id, signing);
    const command = (await a.api('POST', `/v1/devices/${device.deviceId}/commands`, { action: { type: 'unlock', doorId: a.front.id, seconds: 3 } })).body;
    const key = (await a.api('POST', '/v1/api-keys', { name: 'Reports', scopes: ['read_only'] })).body;
    const code = (await a.api('POST', '/v1/enrollment-codes', { siteId: a.site.id })).body;
    const aStaff = await staffSession(a.apiKey, ['front_desk']);
    const aInvitation = (await a.api('POST', '/v1/staff-invitations', { email: 'pending@example.com', name: 'Pending', roles: ['trainer'] })).body;
    const aRole = (await a.api('POST', '/v1/roles', { name: 'Night desk', permissions: ['front_desk'] })).body;
    const ids: Record<string, string | undefined> = {
      sites: a.site.id, doors: a.front.id, members: a.member.id, credentials: a.card.id, 'access-profiles': profile.id,
      bookings: booking.id, 'pending-items': pending.item?.id, devices: device.deviceId, commands: command.id, 'api-keys': key.id,
      'enrollment-codes': code.id, plans: a.plan.id, subscriptions: subscription.id, invoices: invoice.id, payments: payment.id,
      'credit-notes': creditNote.id ?? creditNote.creditNote?.id, staff: aStaff.staffMemberId, 'staff-invitations': aInvitation.id, sessions: aStaff.sessionId,
      roles: aRole.id,
    };
    for (const [what, id] of Object.entries(ids)) expect(id, `A has a ${what}`).toBeTruthy();
    const byParam: Record<string, string> = {
      memberId: a.member.id, payerId: a.member.id, siteId: a.site.id, doorId: a.front.id, planId: a.plan.id, subscriptionId: subscription.id,
      invoiceId: invoice.id, paymentId: payment.id, deviceId: device.deviceId, accessProfileId: profile.id, setupId: setup.setup.id, resourceId: a.member.id, actorId: key.id,
    };
    const secretsOfA = [...new Set(Object.values({ ...ids, ...byParam }).filter((v): v is string => typeof v === 'string'))];

    // B: another gym with its own key and door.
    const b = await gym();
    const bDevice = await enrollDevice(b.apiKey, b.site.id, signing);
    const bStaff = await staffSession(b.apiKey, ['owner']);
    const bMember = await memberSession(b.organisationId, b.member.id);
    const doc = (await call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
    const ops: Op[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, permission: op['x-permission'] ?? '', query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) })),
    );
    const concrete = (path: string) =>
      path.replace(/\/([a-z-]+)\/\{id\}/, (_, what: string) => `/${what}/${ids[what] ?? `${what}_0000000000000000`}`).replace('{memberId}', a.member.id).replace('{id}', a.member.id);
    // Bodies that would be valid but for naming A's resources, so the call reaches the lookup.
    const bodyFor = (op: Op): unknown => {
      const at = new Date(bkk('2030-02-01')).toISOString();
      const bodies: Record<string, unknown> = {
        'POST /v1/doors': { siteId: a.site.id, name: 'Side door' },
        'POST /v1/members': { name: 'Intruder', accessProfileId: profile.id },
        'POST /v1/credentials': { kind: 'wiegand', memberId: a.member.id, facilityCode: 12, cardNumber: 999 },
        'POST /v1/access-profiles': { name: 'Borrowed', sites: [a.site.id] },
        'POST /v1/enrollment-codes': { siteId: a.site.id },
        'POST /v1/access/explain': { doorId: a.front.id, credential: { kind: 'wiegand', facilityCode: 12, cardNumber: 345 } },
        'POST /v1/plans': { name: 'Copy', currency: 'THB', price: 1_000, interval: 'monthly', accessProfileId: profile.id },
        'POST /v1/subscriptions': { payerId: a.member.id, planId: a.plan.id, startDate: '2030-03-01' },
        'POST /v1/subscriptions/{id}/change-plan': { planId: a.plan.id },
        'POST /v1/devices/{id}/commands': { action: { type: 'unlock', doorId: a.front.id, seconds: 3 } },
        'POST /v1/members/{id}/bookings': { doorGroup: 'studio', startsAt: at, endsAt: new Date(bkk('2030-02-01', '11:00')).toISOString() },
        'POST /v1/members/{id}/pending-items': { kind: 'shop_sale', description: 'Cap', unitAmount: 2_000, currency: 'THB' },
        'POST /v1/members/{id}/payment-method/setup': { returnUrl: 'https://gym.example/saved' },
        'POST /v1/members/{id}/payment-method/simulated-completion': { setupId: setup.setup.id, paymentMethodId: 'pm_card_visa' },
        'PUT /v1/members/{id}/pin': { pin: '482916' },
        'POST /v1/invoices/{id}/credit-notes': { lines: [{ invoiceLineId: invoice.lines[0].id, amount: 500 }], outcome: 'credit_balance', reason: 'other' },
        'POST /v1/invoices/{id}/payments': { amount: 500, method: 'cash' },
        'POST /v1/payments/{id}/refunds': { amount: 500 },
        'POST /v1/device/commands/{id}/ack': { status: 'executed' },
        'POST /v1/subscriptions/{id}/freeze': { from: '2030-02-01', to: '2030-02-15' },
        'POST /v1/subscriptions/{id}/members': { memberId: a.member.id },
        'PATCH /v1/staff/{id}': { disabled: true },
        'POST /v1/staff-invitations': { email: 'x@example.com', name: 'X', roles: ['trainer', aRole.id], siteIds: [a.site.id] },
        'POST /v1/auth/session/organisation': { organisationId: a.organisationId },
        // A door of B reporting taps and alarms at A's door by A's member: stored as B's, never shown to A.
        'POST /v1/device/checkins': { events: [{ id: crypto.randomUUID(), doorId: a.front.id, memberId: a.member.id, credentialKey: 'wiegand:12:345', granted: true, reason: 'granted', explanation: 'x', occurredAt: Date.now() }] },
        'POST /v1/device/alarms': { events: [{ kind: 'door_alarm', id: crypto.randomUUID(), doorId: a.front.id, type: 'door_forced', occurredAt: Date.now() }] },
      };
      if (`${op.method} ${op.path}` in bodies) return bodies[`${op.method} ${op.path}`];
      return op.method === 'PATCH' ? { name: 'Taken over' } : op.method === 'GET' || op.method === 'DELETE' ? undefined : {};
    };

    // What A reads through every GET operation, before the walk.
    const reads = ops.filter((op) => op.method === 'GET' && (PERMISSIONS as readonly string[]).includes(op.permission));
    const readAll = async () =>
      Promise.all(reads.map(async (op) => [op.path, stable((await call('GET', concrete(op.path), { token: a.apiKey, env: a.env })).body)] as const));
    const before = await readAll();

    const leaks: string[] = [];
    const statuses = new Map<number, number>();
    let calls = 0;
    const owner = ops.filter((op) => (PERMISSIONS as readonly string[]).includes(op.permission));
    const deviceOps = ops.filter((op) => op.permission === 'device');
    // A staff person's own routes, signing out last (it ends the session the walk uses).
    const memberOps = ops.filter((op) => op.permission === 'member').sort((x, y) => Number(x.path === '/v1/me/sign-out') - Number(y.path === '/v1/me/sign-out'));
    const sessionOps = ops.filter((op) => op.permission === 'session').sort((x, y) => Number(x.path === '/v1/auth/sign-out') - Number(y.path === '/v1/auth/sign-out'));
    const identities = [
      ['owner key', owner, { token: b.apiKey }],
      ['staff session', [...owner, ...sessionOps], { headers: bStaff.headers }],
      ['device token', deviceOps, { token: bDevice.deviceToken }],
      // A member session reaches nothing but the member's own routes: every owner call is refused.
      ['member session', [...owner, ...memberOps], { headers: bMember }],
    ] as const;
    for (const [identity, list, auth] of identities) {
      for (const op of list) {
        const query = op.query.filter((q) => byParam[q]).map((q) => `${q}=${byParam[q]}`).join('&');
        const path = concrete(op.path) + (query ? `?${query}` : '');
        const body = bodyFor(op);
        const res = await call(op.method, path, { ...auth, env: { ...a.env }, ...(body === undefined ? {} : { body }) });
        if (res.status === 401 && identity === 'staff session') leaks.push(`the staff session ended during the walk at ${op.method} ${op.path}`);
        if (identity === 'member session' && op.permission !== 'member' && res.status !== 401) leaks.push(`a member session reached ${op.method} ${op.path}: ${res.status}`);
        if (identity === 'member session' && op.permission === 'member' && res.status >= 400) leaks.push(`the member session was refused its own ${op.method} ${op.path}: ${res.status}`);
        calls++;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // A door's uploads are its own events whatever they name: accepted, with foreign references cleared (checked below).
        const upload = op.path === '/v1/device/checkins' || op.path === '/v1/device/alarms';
        const aimedAtA = /\{id\}|\{memberId\}/.test(op.path) || (!upload && body !== undefined && secretsOfA.some((id) => JSON.stringify(body).includes(id)));
        const text = JSON.stringify(res.body);
        const mentioned = res.status < 300 ? secretsOfA.filter((id) => text.includes(id)) : [];
        if (res.status >= 500) leaks.push(`${identity} ${op.method} ${op.path}: ${res.status} ${text.slice(0, 200)}`);
        else if (mentioned.length > 0) leaks.push(`${identity} ${op.method} ${path}: ${res.status} answered with A's ${mentioned.join(', ')}`);
        else if (aimedAtA && res.status < 300) leaks.push(`${identity} ${op.method} ${path}: ${res.status} ${text.slice(0, 200)}`);
      }
    }
    for (const list of ['/v1/checkins', '/v1/alarms']) {
      const own = await call('GET', list, { token: b.apiKey });
      expect(own.body.data.length, `B's door's events at ${list}`).toBe(1);
      const mentioned = secretsOfA.filter((id) => JSON.stringify(own.body).includes(id));
      if (mentioned.length > 0) leaks.push(`B's ${list} keeps A's ${mentioned.join(', ')}`);
    }
    expect(leaks).toEqual([]);
    const after = await readAll();
    for (const [i, [path, value]] of after.entries()) expect(value, `A's ${path} after B's walk`).toEqual(before[i]![1]);
    const spread = [...statuses].sort(([x], [y]) => x - y).map(([s, n]) => `${s}×${n}`).join(' ');
    console.log(
      `tenancy walk: ${owner.length} owner operations (B's owner key, B's owner's staff session, B's member's session) + ${sessionOps.length} staff session operations + ${memberOps.length} member operations + ${deviceOps.length} device operations (B's door token) with A's ids = ${calls} calls (${spread}), ${leaks.length} leaks; A's data through ${reads.length} GET operations unchanged`,
    );
  });
});

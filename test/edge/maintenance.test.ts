import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import * as schema from '../../edge/db/schema.ts';
import worker from '../../edge/index.ts';
import { FREQUENT_CRON } from '../../edge/maintenance/crons.ts';
import { enqueueNotice } from '../../edge/notifications/outbox.ts';
import { pruneChangeLog } from '../../edge/maintenance/prune.ts';
import { call, enrollDevice, gym } from './helpers.ts';

describe('change log pruning', () => {
  it('keeps the newest versions per site, and doors behind them get a snapshot', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    for (const status of ['suspended', 'active', 'suspended', 'active'] as const) {
      await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status } });
    }
    const version = (await call('GET', `/v1/sites/${g.site.id}`, { token: g.apiKey })).body.entitlementVersion as number;
    const removed = await pruneChangeLog(drizzle(env.DB, { schema }), 2);
    expect(removed).toBeGreaterThan(0);
    const left = await env.DB.prepare('SELECT min(version) AS v FROM entitlement_changes WHERE site_id = ?').bind(g.site.id).first<{ v: number }>();
    expect(left?.v).toBe(version - 1);
    expect((await call('GET', `/v1/device/entitlements?since=${version - 2}`, { token: device.deviceToken })).body.kind).toBe('delta');
    expect((await call('GET', `/v1/device/entitlements?since=${version - 4}`, { token: device.deviceToken })).body.kind).toBe('snapshot');
  });

  it('runs from the daily scheduled handler', async () => {
    const g = await gym();
    // A busy site: 6,000 versions on, its first changes are past what the log keeps.
    await env.DB.prepare('UPDATE sites SET entitlement_version = entitlement_version + 6000 WHERE id = ?').bind(g.site.id).run();
    const before = await env.DB.prepare('SELECT count(*) AS n FROM entitlement_changes WHERE site_id = ?').bind(g.site.id).first<{ n: number }>();
    expect(before?.n).toBeGreaterThan(0);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    const after = await env.DB.prepare('SELECT count(*) AS n FROM entitlement_changes WHERE site_id = ?').bind(g.site.id).first<{ n: number }>();
    expect(after?.n).toBe(0);
  });
});

describe('the five-minute cron', () => {
  it('sends queued member notices', async () => {
    const g = await gym();
    const db = drizzle(env.DB, { schema });
    const [queued] = await enqueueNotice(db, {
      organisationId: g.organisationId,
      memberId: g.member.id,
      template: 'restored',
      data: { gymName: 'Test Gym', memberName: 'Somchai P.' },
    });
    expect(queued?.status).toBe('queued');
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 1000, cron: FREQUENT_CRON }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    const list = await call('GET', `/v1/notifications?memberId=${g.member.id}`, { token: g.apiKey });
    expect(list.body.data).toEqual([expect.objectContaining({ id: queued!.id, status: 'sent', channel: 'email' })]);
  });
});

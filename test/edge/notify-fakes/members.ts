// Shared setup of the notification tests: an organisation with members reachable by email,
// SMS or both, and the outbox rows they get.
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import * as schema from '../../../edge/db/schema.ts';
import type { Env } from '../../../edge/env.ts';
import type { NoticeData } from '../../../edge/notifications/templates.ts';
import { call, newOrganisation } from '../helpers.ts';

export const db = () => drizzle(env.DB, { schema });

export async function gymWithMembers() {
  const { apiKey, organisationId } = await newOrganisation('Sukhumvit Gym');
  const tag = crypto.randomUUID().slice(0, 8);
  const add = async (name: string, contact: { email?: string; phone?: string }) =>
    (await call('POST', '/v1/members', { token: apiKey, body: { name, ...contact } })).body as { id: string; email: string | null; phone: string | null };
  const both = await add('Somchai P.', { email: `somchai.${tag}@example.com`, phone: '081 234 5678' });
  const emailOnly = await add('Anna K.', { email: `anna.${tag}@example.com` });
  const smsOnly = await add('Niran T.', { phone: '+66 89 999 0000' });
  const neither = await add('Walk In', {});
  return { apiKey, organisationId, tag, both, emailOnly, smsOnly, neither };
}

export const paymentFailed = (amount = 199000): NoticeData['payment_failed'] => ({
  gymName: 'Sukhumvit Gym',
  memberName: 'Somchai P.',
  amount: { amount, currency: 'THB' },
  payUrl: 'https://pay.gymgate.dev/p/7Kq2mX9d',
});

export const rowOf = async (id: string) => {
  const [row] = await db().select().from(schema.notificationMessages).where(eq(schema.notificationMessages.id, id));
  if (!row) throw new Error(`no notification ${id}`);
  return row;
};

export const testEnv = (extra: Partial<Env>): Env => ({ ...(env as unknown as Env), ...extra });

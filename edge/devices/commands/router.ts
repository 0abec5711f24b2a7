import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import { commandTopic, type CommandAction, type DoorCommand } from '../../../core/commands.ts';
import { commands, devices, doors, sites } from '../../db/schema.ts';
import { brokerOf, orgTopicPrefix, publishMessages, writeWithChanges } from '../../entitlements/index.ts';
import type { AppEnv, Db, Env } from '../../env.ts';
import { ApiProblem, invalidField, notFound } from '../../lib/problem.ts';
import { iso, isoOrNull } from '../../lib/time.ts';
import { getCommand, lockdownSite, releaseSite, sendCommand } from './routes.ts';
import { commandPublicKey, randomNonce, signCommand, SigningKeyError } from '../../lib/signing.ts';
import { requireSite } from '../../lib/site-limits.ts';
import { ownedBy } from '../../lib/owned.ts';

type CommandRow = typeof commands.$inferSelect;

export const commandOut = (r: CommandRow, now = Date.now()) => ({
  id: r.id,
  deviceId: r.deviceId,
  action: r.action,
  status: r.status === 'sent' && r.expiresAt < now ? ('expired' as const) : r.status,
  issuedAt: iso(r.issuedAt),
  expiresAt: iso(r.expiresAt),
  ackedAt: isoOrNull(r.ackedAt),
  resultReason: r.resultReason,
  resultDetail: r.resultDetail,
});

/** Signs, stores and publishes (QoS 1, never retained) one command; the row records the outcome. */
export async function issueCommand(
  env: Env,
  db: Db,
  device: { id: string; organisationId: string },
  action: CommandAction,
  ttlSeconds: number,
): Promise<CommandRow> {
  const now = Date.now();
  const command: DoorCommand = { id: crypto.randomUUID(), deviceId: device.id, issuedAt: now, expiresAt: now + ttlSeconds * 1000, nonce: randomNonce(), action };
  const text = JSON.stringify(command);
  let signature: string;
  try {
    signature = await signCommand(env.COMMAND_SIGNING_KEY, text);
  } catch (err) {
    if (err instanceof SigningKeyError) throw new ApiProblem(409, 'commands-not-configured', 'Door commands are not configured', err.message);
    throw err;
  }
  const broker = brokerOf(env);
  let status: CommandRow['status'] = 'publish_failed';
  let detail: string | null = broker ? null : 'no MQTT broker is configured (MQTT_URL)';
  if (broker) {
    try {
      await publishMessages(broker, [{ topic: commandTopic(orgTopicPrefix(env, device.organisationId), device.id), payload: JSON.stringify({ command: text, signature }), retain: false }], {
        clientId: `gymgate-worker-${command.id.slice(0, 8)}`,
      });
      status = 'sent';
    } catch (err) {
      detail = String(err);
    }
  }
  const row: CommandRow = {
    id: command.id,
    organisationId: device.organisationId,
    deviceId: device.id,
    action,
    nonce: command.nonce,
    issuedAt: command.issuedAt,
    expiresAt: command.expiresAt,
    status,
    resultReason: status === 'publish_failed' ? 'publish_failed' : null,
    resultDetail: detail,
    ackedAt: null,
  };
  await db.insert(commands).values(row);
  return row;
}

async function siteDevicesAndDoors(db: Db, organisationId: string, siteId: string) {
  const [site] = await db.select().from(sites).where(ownedBy(sites, siteId, organisationId));
  if (!site) throw notFound('Site', siteId);
  const [siteDoors, siteDevices] = await db.batch([
    db.select({ id: doors.id }).from(doors).where(eq(doors.siteId, siteId)),
    db.select({ id: devices.id, organisationId: devices.organisationId }).from(devices).where(and(eq(devices.siteId, siteId), isNull(devices.revokedAt))),
  ]);
  return { siteDoors, siteDevices };
}

export const commandsRouter = new OpenAPIHono<AppEnv>()
  .openapi(sendCommand, async (c) => {
    const { id } = c.req.valid('param');
    const { action, ttlSeconds } = c.req.valid('json');
    const db = c.var.db;
    const [device] = await db
      .select()
      .from(devices)
      .where(ownedBy(devices, id, c.var.organisationId, isNull(devices.revokedAt)));
    if (!device) throw notFound('Device', id);
    requireSite(c, device.siteId);
    // Refused before anything is written: a mode or lockdown must not change without its command.
    if (!commandPublicKey(c.env.COMMAND_SIGNING_KEY)) {
      throw new ApiProblem(409, 'commands-not-configured', 'Door commands are not configured', 'door commands need the COMMAND_SIGNING_KEY secret');
    }
    if ('doorId' in action) {
      const [door] = await db.select().from(doors).where(and(eq(doors.id, action.doorId), eq(doors.siteId, device.siteId)));
      if (!door) throw invalidField('action.doorId', `no door ${action.doorId} at this device's site`);
      // A mode is state, not only an instruction: keep it so every sync agrees with the command.
      if (action.type === 'set_mode' && door.mode !== action.mode) {
        await writeWithChanges(c, [db.update(doors).set({ mode: action.mode }).where(eq(doors.id, door.id))], { siteId: device.siteId }, [
          { kind: 'door', entityId: door.id },
        ]);
      }
    }
    if (action.type === 'lockdown' || action.type === 'release') {
      // A lockdown is state, like a mode: recorded on the doors of the device's site before the
      // command goes out, so later versions, snapshots and restarts keep it until a release.
      const siteDoors = await db.select({ id: doors.id }).from(doors).where(eq(doors.siteId, device.siteId));
      const write =
        action.type === 'lockdown'
          ? db.update(doors).set({ mode: 'lockdown' }).where(eq(doors.siteId, device.siteId))
          : db.update(doors).set({ mode: 'normal' }).where(and(eq(doors.siteId, device.siteId), eq(doors.mode, 'lockdown')));
      await writeWithChanges(c, [write], { siteId: device.siteId }, siteDoors.map((d) => ({ kind: 'door' as const, entityId: d.id })));
    }
    const row = await issueCommand(c.env, db, device, action, ttlSeconds);
    return c.json(commandOut(row), 201);
  })
  .openapi(getCommand, async (c) => {
    const { id } = c.req.valid('param');
    const [found] = await c.var.db.select({ command: commands, siteId: devices.siteId }).from(commands).innerJoin(devices, eq(devices.id, commands.deviceId)).where(ownedBy(commands, id, c.var.organisationId));
    if (!found) throw notFound('Command', id);
    requireSite(c, found.siteId);
    return c.json(commandOut(found.command), 200);
  })
  .openapi(lockdownSite, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const { siteDoors, siteDevices } = await siteDevicesAndDoors(db, c.var.organisationId, id);
    requireSite(c, id);
    await writeWithChanges(c, [db.update(doors).set({ mode: 'lockdown' }).where(eq(doors.siteId, id))], { siteId: id }, siteDoors.map((d) => ({ kind: 'door' as const, entityId: d.id })));
    const sent = await Promise.all(siteDevices.map((d) => issueCommand(c.env, db, d, { type: 'lockdown' }, 300).catch(() => null)));
    return c.json({ siteId: id, doors: siteDoors.length, commands: sent.filter((r) => r !== null).map((r) => commandOut(r)) }, 200);
  })
  .openapi(releaseSite, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const { siteDoors, siteDevices } = await siteDevicesAndDoors(db, c.var.organisationId, id);
    requireSite(c, id);
    await writeWithChanges(
      c,
      [db.update(doors).set({ mode: 'normal' }).where(and(eq(doors.siteId, id), eq(doors.mode, 'lockdown')))],
      { siteId: id },
      siteDoors.map((d) => ({ kind: 'door' as const, entityId: d.id })),
    );
    const sent = await Promise.all(siteDevices.map((d) => issueCommand(c.env, db, d, { type: 'release' }, 300).catch(() => null)));
    return c.json({ siteId: id, doors: siteDoors.length, commands: sent.filter((r) => r !== null).map((r) => commandOut(r)) }, 200);
  });

// Bytes on the wire for one change at a large site: the MQTT notice (with its inline delta) and
// the HTTPS delta, against the full snapshot a door would otherwise download. The site is written
// straight into local D1, then served by wrangler dev as in production.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { entitlementTopic } from '../../core/contracts/wire.ts';
import { applyLocalMigrations, bootstrapLocal, newGymSecrets, startEmbeddedBroker, startWorker, trustVars } from '../../edge/dev/local-gym.ts';
import { BIN, freePort, run } from '../../edge/dev/processes.ts';
import { memberId } from './synthetic-site.ts';

export type WireSize = { members: number; snapshotBytes: number; noticeBytes: number; deltaBytes: number };

export async function measureWireSize(members: number): Promise<WireSize> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gymgate-wire-'));
  const persistDir = path.join(dir, 'wrangler');
  const secrets = await newGymSecrets();
  const port = await freePort();
  const broker = await startEmbeddedBroker(0, { workerUrl: `http://127.0.0.1:${port}`, secret: secrets.brokerSecret });
  try {
    await applyLocalMigrations(persistDir);
    const { apiKey, organisationId } = await bootstrapLocal(persistDir, 'Wire Gym');
    const siteId = 'site_0000000000wire';
    const now = Date.now();
    const lines = [
      `INSERT INTO sites (id, organisation_id, name, timezone, closures, entitlement_version, created_at) VALUES ('${siteId}', '${organisationId}', 'Wire', 'Asia/Bangkok', '[]', 1, ${now});`,
      `INSERT INTO doors (id, organisation_id, site_id, name, created_at) VALUES ('door_0000000000wire', '${organisationId}', '${siteId}', 'Front door', ${now});`,
    ];
    for (let start = 0; start < members; start += 500) {
      const ids = Array.from({ length: Math.min(500, members - start) }, (_, k) => start + k);
      lines.push(
        `INSERT INTO members (id, organisation_id, name, status, valid_until, created_at, updated_at) VALUES ${ids
          .map((i) => `('${memberId(i)}', '${organisationId}', 'Member ${i}', 'active', ${now + 30 * 86_400_000}, ${now}, ${now})`)
          .join(',')};`,
      );
      lines.push(
        `INSERT INTO credentials (id, organisation_id, member_id, kind, facility_code, card_number, key, created_at) VALUES ${ids
          .map((i) => `('cred_${memberId(i).slice(4)}', '${organisationId}', '${memberId(i)}', 'wiegand', ${Math.floor(i / 65536) + 1}, ${i % 65536}, 'wiegand:${Math.floor(i / 65536) + 1}:${i % 65536}', ${now})`)
          .join(',')};`,
      );
    }
    const file = path.join(dir, 'site.sql');
    writeFileSync(file, lines.join('\n'));
    await run(BIN('wrangler'), ['d1', 'execute', 'gymgate', '--local', '--persist-to', persistDir, '--file', file, '--yes']);

    const worker = await startWorker({ port, persistDir, vars: { MQTT_URL: broker.url, ...trustVars(secrets) } });
    try {
      const owner = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
      const { code } = (await (await fetch(`${worker.url}/v1/enrollment-codes`, { method: 'POST', headers: owner, body: JSON.stringify({ siteId }) })).json()) as { code: string };
      const { deviceToken, mqtt: door } = (await (await fetch(`${worker.url}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json()) as {
        deviceToken: string;
        mqtt: { username: string; password: string };
      };
      const device = { authorization: `Bearer ${deviceToken}` };
      const snapshotText = await (await fetch(`${worker.url}/v1/device/snapshot`, { headers: device })).text();
      const version = (JSON.parse(snapshotText) as { version: number }).version;

      const subscriber = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, username: door.username, password: door.password });
      const notice = new Promise<Buffer>((resolve) =>
        subscriber.on('message', (_topic, payload) => {
          if ((JSON.parse(payload.toString()) as { version: number }).version > version) resolve(payload);
        }),
      );
      await subscriber.subscribeAsync(entitlementTopic(`gymgate/${organisationId}`, siteId), { qos: 1 });
      await fetch(`${worker.url}/v1/members/${memberId(0)}`, { method: 'PATCH', headers: owner, body: JSON.stringify({ status: 'suspended' }) });
      const noticePayload = await Promise.race([notice, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no notice within 30 s')), 30_000))]);
      // The figure is of the notice a door acts on: with its signed inline delta.
      if (!(JSON.parse(noticePayload.toString()) as { signedDelta?: unknown }).signedDelta) throw new Error('the notice carries no signed inline delta');
      const noticeBytes = noticePayload.byteLength;
      await subscriber.endAsync();
      const deltaText = await (await fetch(`${worker.url}/v1/device/entitlements?since=${version}`, { headers: device })).text();
      return {
        members,
        snapshotBytes: Buffer.byteLength(snapshotText),
        noticeBytes,
        deltaBytes: Buffer.byteLength(deltaText),
      };
    } finally {
      await worker.stop();
    }
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

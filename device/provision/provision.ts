// `gymgate-agent provision`: trades a one-time enrollment code for the device's identity, token and
// command key, writes device.json (mode 0600), then fetches the site's snapshot to write
// config.json with default wiring for each door, and cache.json plus the sync time (clock.json) so
// the first run can decide offline.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { enroll, WorkerClient, type FetchLike } from '../api/worker-client.ts';
import { parseSnapshot } from '../cache/snapshot-check.ts';
import { saveSnapshot } from '../cache/store.ts';
import { writeLastSync } from '../clock/door-clock.ts';
import { clearRevocation } from '../features/revocation.ts';
import { devicePath, readAgentConfig, writeAgentConfig, writeDeviceIdentity, configPath } from '../config/files.ts';
import { configForDoors, type AgentConfig, type DeviceIdentity } from '../config/schema.ts';
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { AGENT_VERSION } from '../version.ts';

export class AlreadyProvisionedError extends Error {
  override name = 'AlreadyProvisionedError';
}

export type ProvisionResult = {
  identity: DeviceIdentity;
  devicePath: string;
  configPath: string;
  config?: AgentConfig;
  snapshot?: EntitlementSnapshot;
  /** Why config.json could not be written now (the first `run` writes it instead). */
  snapshotError?: string;
};

export async function provision(options: {
  api: string;
  code: string;
  dataDir: string;
  name?: string;
  force?: boolean;
  fetch?: FetchLike;
}): Promise<ProvisionResult> {
  const dataDir = resolve(options.dataDir);
  const identityPath = devicePath(dataDir);
  // Checked before the code is spent: a one-time code is not wasted on a refused overwrite.
  if (existsSync(identityPath) && !options.force) {
    throw new AlreadyProvisionedError(
      `${identityPath} already exists: this door is provisioned. Pass --force to replace its identity.`,
    );
  }
  const enrolled = await enroll({
    api: options.api,
    code: options.code,
    name: options.name,
    agentVersion: AGENT_VERSION,
    fetch: options.fetch,
  });
  const identity: DeviceIdentity = {
    deviceId: enrolled.deviceId,
    deviceToken: enrolled.deviceToken,
    api: options.api.replace(/\/+$/, ''),
    organisationId: enrolled.organisationId,
    siteId: enrolled.siteId,
    topicPrefix: enrolled.topicPrefix,
    mqtt: enrolled.mqtt,
    commandPublicKey: enrolled.commandPublicKey ?? null,
    ...(options.name ? { name: options.name } : {}),
    provisionedAt: new Date().toISOString(),
  };
  await writeDeviceIdentity(dataDir, identity, options.force ?? false);
  // A new identity is trusted again: forget that the previous one was revoked.
  await clearRevocation(dataDir);
  const result: ProvisionResult = { identity, devicePath: identityPath, configPath: configPath(dataDir) };
  try {
    const client = new WorkerClient({ api: identity.api, deviceToken: identity.deviceToken, fetch: options.fetch });
    const { bytes } = await client.fetchSnapshot();
    const snapshot = parseSnapshot(new TextDecoder().decode(bytes));
    await saveSnapshot(dataDir, bytes);
    await writeLastSync(dataDir, snapshot.serverTime);
    let previous: AgentConfig | undefined;
    try {
      previous = await readAgentConfig(dataDir);
    } catch {
      previous = undefined; // an unreadable config is replaced by defaults
    }
    const config = configForDoors(snapshot.doors, previous);
    await writeAgentConfig(dataDir, config);
    result.config = config;
    result.snapshot = snapshot;
  } catch (error) {
    result.snapshotError = (error as Error).message;
  }
  return result;
}

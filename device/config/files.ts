// Reading and writing device.json and config.json.
import { join } from 'node:path';
import type { z } from 'zod';
import { readFileIfExists, writeJsonAtomic } from '../storage/atomic-write.ts';
import { AgentConfig, CONFIG_FILE, DEVICE_FILE, DeviceIdentity } from './schema.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const describe = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

async function readJson<T extends z.ZodType>(path: string, schema: T): Promise<z.infer<T> | undefined> {
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`${path} is invalid: ${describe(parsed.error)}`);
  return parsed.data;
}

export const devicePath = (dataDir: string) => join(dataDir, DEVICE_FILE);
export const configPath = (dataDir: string) => join(dataDir, CONFIG_FILE);

export const readDeviceIdentity = (dataDir: string) => readJson(devicePath(dataDir), DeviceIdentity);
export const readAgentConfig = (dataDir: string) => readJson(configPath(dataDir), AgentConfig);

/** Writes device.json, created with mode 0600; refuses to replace an existing one unless overwrite. */
export const writeDeviceIdentity = (dataDir: string, identity: DeviceIdentity, overwrite: boolean) =>
  writeJsonAtomic(devicePath(dataDir), DeviceIdentity.parse(identity), { mode: 0o600, overwrite });

export const writeAgentConfig = (dataDir: string, config: AgentConfig) =>
  writeJsonAtomic(configPath(dataDir), AgentConfig.parse(config), { mode: 0o644 });

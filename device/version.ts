// The agent's version, taken from the package it ships in, and the User-Agent it sends.
import { readFileSync } from 'node:fs';

const readVersion = (): string => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
};

export const AGENT_VERSION = readVersion();
export const USER_AGENT = `gymgate-agent/${AGENT_VERSION}`;

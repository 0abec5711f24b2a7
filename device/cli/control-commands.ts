// Commands that talk to a running agent's control endpoint (the simulated driver): tap a card,
// show a door's relay history, show the agent's status.
import type { AccessDecision } from '../../core/access.ts';
import type { AgentStatus } from '../agent.ts';
import { controlRequest } from '../sim/control-client.ts';
import type { TapBody } from '../sim/control-server.ts';

import { controlOf, doorRef, parse, UsageError, help, type CliIO } from './args.ts';

type TapResponse = { door: string; doorName?: string; credentialKey: string | null; decision: AccessDecision };

export async function tapCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('tap', argv, {
    door: { type: 'string' },
    card: { type: 'string' },
    format: { type: 'string' },
    bits: { type: 'string' },
    raw: { type: 'string' },
    control: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) return help(io);
  const given = [v.card, v.bits, v.raw].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('tap: give exactly one of --card FACILITY:CARD, --bits 0101… or --raw HEX');
  const body: TapBody = { door: doorRef(v.door) };
  if (v.card !== undefined) {
    const m = /^(\d{1,5}):(\d{1,7})$/.exec(v.card);
    if (!m) throw new UsageError(`tap: --card must be FACILITY:CARD in decimal, e.g. 12:3456, got ${v.card}`);
    body.facility = Number(m[1]);
    body.card = Number(m[2]);
    if (v.format !== undefined) {
      if (!['H10301', 'N10002', 'C1000', 'H10304'].includes(v.format)) {
        throw new UsageError(`tap: --format must be H10301, N10002, C1000 or H10304, got ${v.format}`);
      }
      body.format = v.format as TapBody['format'];
    }
  } else if (v.format !== undefined) {
    throw new UsageError('tap: --format only applies to --card');
  }
  if (v.bits !== undefined) {
    if (!/^[01]+$/.test(v.bits)) throw new UsageError(`tap: --bits must be a string of 0 and 1, got ${v.bits}`);
    body.bits = v.bits;
  }
  if (v.raw !== undefined) body.raw = v.raw;
  const result = await controlRequest<TapResponse>(controlOf(v.control, io.env), 'POST', '/tap', body);
  if (v.json) {
    io.stdout(JSON.stringify(result));
    return 0;
  }
  const d = result.decision;
  io.stdout(
    `${d.granted ? 'GRANTED' : 'DENIED'} at ${result.doorName ? `${result.doorName} (${result.door})` : result.door}: ${d.reason} — ${d.explanation}` +
      `${result.credentialKey ? ` [${result.credentialKey}]` : ''}${d.memberId ? ` member ${d.memberId}` : ''}`,
  );
  return 0;
}

type RelayResponse = {
  door: string;
  line: number;
  activeLow: boolean;
  history: Array<{ at: number; level: 0 | 1; active: boolean }>;
};

export async function relayCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('relay', argv, { door: { type: 'string' }, control: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) return help(io);
  const query = v.door === undefined ? '' : `?door=${encodeURIComponent(v.door)}`;
  const result = await controlRequest<RelayResponse>(controlOf(v.control, io.env), 'GET', `/relay${query}`);
  if (v.json) {
    io.stdout(JSON.stringify(result));
    return 0;
  }
  io.stdout(`Relay of ${result.door} on GPIO ${result.line} (${result.activeLow ? 'active-low' : 'active-high'}):`);
  for (const w of result.history) {
    io.stdout(`  ${new Date(w.at).toISOString()}  level ${w.level}  ${w.active ? 'ACTIVE (unlocked)' : 'inactive (locked)'}`);
  }
  return 0;
}

export async function statusCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('status', argv, { control: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) return help(io);
  const s = await controlRequest<AgentStatus>(controlOf(v.control, io.env), 'GET', '/status');
  if (v.json) {
    io.stdout(JSON.stringify(s));
    return 0;
  }
  const when = (t: number | null) => (t === null ? 'never' : new Date(t).toISOString());
  io.stdout(`Device ${s.deviceId} at site ${s.siteId} (agent ${s.agentVersion}, ${s.driver} driver)`);
  if (s.gpioFallback) io.stdout(`GPIO: SIMULATED, no relay moves: driver "auto" found no usable GPIO (${s.gpioFallback}); run gymgate-agent doctor`);
  io.stdout(
    `Entitlements: version ${s.entitlementVersion ?? 'none'} (hash ${s.entitlementHash ?? 'none'}), ${s.credentials} credential(s), ` +
      `last sync ${when(s.lastSyncAt)}, cache age ${s.cacheAgeMs === null ? 'unknown' : `${Math.round(s.cacheAgeMs / 1000)} s`}`,
  );
  io.stdout(`Clock: ${s.clockSynced ? 'synchronised' : 'NOT synchronised'}, offset ${s.clockOffsetMs === null ? 'unknown' : `${s.clockOffsetMs} ms`}`);
  io.stdout(`Broker: ${s.brokerConnected ? 'connected' : 'not connected'} (${s.reconnectsLastHour} reconnect(s) in the last hour); last heartbeat ${when(s.lastHeartbeatAt)}`);
  io.stdout(`Outbox: ${s.outboxPending} event(s) waiting, last upload ${when(s.lastUploadAt)}`);
  io.stdout(`Commands: ${s.commandsEnabled ? 'accepted (signed)' : 'ignored (no command key)'}${s.overrides.lockdown ? '; LOCKDOWN by command' : ''}`);
  for (const d of s.doors) {
    io.stdout(`  door ${d.slot}: ${d.id}  ${d.name}  mode ${d.mode ?? 'unknown'}${d.heldOpen ? ', held open' : ''}${d.relayActive ? ', relay active' : ''}`);
  }
  return 0;
}

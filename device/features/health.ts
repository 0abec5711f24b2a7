// What the agent reports about itself: the full status (`gymgate-agent status`, the control
// endpoint) and the health verdict GET /health answers (device/health/health-server.ts), ok while
// the agent can decide at its doors.
import { SIMULATED_FALLBACK_PROBLEM } from '../../core/contracts/wire.ts';
import type { HealthReport } from '../health/health-server.ts';
import type { DoorStatus } from './doors.ts';

export type AgentStatus = {
  deviceId: string;
  siteId: string;
  agentVersion: string;
  driver: string;
  /** Why driver "auto" fell back to the simulated driver (no usable GPIO: no relay moves), or null. */
  gpioFallback: string | null;
  entitlementVersion: number | null;
  entitlementHash: string | null;
  credentials: number;
  members: number;
  doors: DoorStatus[];
  outboxPending: number;
  lastSyncAt: number | null;
  lastUploadAt: number | null;
  lastHeartbeatAt: number | null;
  brokerConnected: boolean;
  reconnectsLastHour: number;
  clockSynced: boolean;
  clockOffsetMs: number | null;
  cacheAgeMs: number | null;
  commandsEnabled: boolean;
  /** Entitlement notices whose inline data the door refused, by reason (unsigned, bad_signature, wrong_site…). */
  refusedNotices: Record<string, number>;
  overrides: { lockdown: boolean; modes: Record<string, string> };
  controlUrl: string | null;
  /** When and why the Worker revoked this door (it refuses every tap), or null. */
  revoked: { at: number; detail: string } | null;
};

/** The health verdict from a status: each reason the door cannot decide properly is a problem. */
export function healthReport(s: AgentStatus, phase: { stopping: boolean; running: boolean }): HealthReport {
  const problems: string[] = [];
  if (phase.stopping) problems.push('stopping');
  if (s.revoked) problems.push(`revoked: ${s.revoked.detail}`);
  if (!phase.running) problems.push('restarting');
  if (s.entitlementVersion === null) problems.push('no entitlement cache');
  if (s.doors.length === 0) problems.push('no doors wired');
  // A provisioned door on `auto` that found no GPIO decides taps but moves no relay.
  if (s.gpioFallback !== null) problems.push(SIMULATED_FALLBACK_PROBLEM);
  return {
    ok: problems.length === 0,
    problems,
    deviceId: s.deviceId,
    agentVersion: s.agentVersion,
    driver: s.driver,
    gpioFallback: s.gpioFallback,
    uptimeSeconds: Math.round(process.uptime()),
    entitlementVersion: s.entitlementVersion,
    cacheAgeMs: s.cacheAgeMs,
    lastSyncAt: s.lastSyncAt,
    clockSynced: s.clockSynced,
    brokerConnected: s.brokerConnected,
    outboxPending: s.outboxPending,
    doors: s.doors.map((d) => ({ id: d.id, slot: d.slot, relayActive: d.relayActive, doorOpen: d.doorOpen, alarms: d.alarms })),
  };
}

// Signed door commands. The Worker signs the exact UTF-8 text of a command with Ed25519; the
// agent verifies the signature with the public key it received at provisioning, then applies
// the checks below before acting. Only the checks live here (pure); signing and verifying are
// WebCrypto calls in the shells.
import { z } from 'zod';
import { resourceId } from './contracts/common.ts';
import { DoorMode } from './entitlement.ts';

const DeviceId = resourceId('dev');
const DoorId = resourceId('door');

export const CommandAction = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('unlock'), doorId: DoorId, seconds: z.number().int().min(1).max(3600) }),
    z.object({ type: z.literal('set_mode'), doorId: DoorId, mode: DoorMode }),
    z.object({ type: z.literal('lockdown') }),
    z.object({ type: z.literal('release') }),
    z.object({ type: z.literal('sync_now') }),
    z.object({ type: z.literal('restart') }),
  ])
  .meta({ id: 'CommandAction' });
export type CommandAction = z.infer<typeof CommandAction>;

export const DoorCommand = z
  .object({
    id: z.uuid(),
    deviceId: DeviceId,
    issuedAt: z.number().int(),
    expiresAt: z.number().int(),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be 16–64 url-safe base64 characters'),
    action: CommandAction,
  })
  .meta({ id: 'DoorCommand' });
export type DoorCommand = z.infer<typeof DoorCommand>;

/** What travels over MQTT: the command as the exact text that was signed, and the signature. */
export const SignedCommand = z
  .object({
    command: z.string().max(4096),
    signature: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be url-safe base64'),
  })
  .meta({ id: 'SignedCommand' });
export type SignedCommand = z.infer<typeof SignedCommand>;

export const commandTopic = (topicPrefix: string, deviceId: string) => `${topicPrefix}/devices/${deviceId}/commands`;

export const COMMAND_REJECTIONS = ['bad_signature', 'malformed', 'wrong_device', 'expired', 'not_yet_valid', 'replayed', 'clock_not_synced'] as const;
export type CommandRejection = (typeof COMMAND_REJECTIONS)[number];

export type CommandCheck = { ok: true; command: DoorCommand } | { ok: false; reason: CommandRejection; detail: string };

/** Allowance for a Pi clock that is a little off; commands live for seconds, not hours. */
export const COMMAND_CLOCK_SKEW_MS = 30_000;

/**
 * Decides whether a command whose signature already verified may be executed by this device.
 * `seenNonce` answers whether the nonce was used before (the caller remembers nonces at least
 * until their command expires).
 */
export function checkCommand(
  commandText: string,
  context: { deviceId: string; now: number; clockSynced: boolean; seenNonce: (nonce: string) => boolean },
): CommandCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(commandText);
  } catch {
    return { ok: false, reason: 'malformed', detail: 'command is not JSON' };
  }
  const result = DoorCommand.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: 'malformed', detail: `${issue?.path.join('.') || '(command)'}: ${issue?.message}` };
  }
  const command = result.data;
  if (command.deviceId !== context.deviceId) {
    return { ok: false, reason: 'wrong_device', detail: `addressed to ${command.deviceId}` };
  }
  if (!context.clockSynced) {
    return { ok: false, reason: 'clock_not_synced', detail: 'the door clock was never synchronised, so expiry cannot be checked' };
  }
  if (command.expiresAt + COMMAND_CLOCK_SKEW_MS < context.now) {
    return { ok: false, reason: 'expired', detail: `expired at ${new Date(command.expiresAt).toISOString()}` };
  }
  if (command.issuedAt - COMMAND_CLOCK_SKEW_MS > context.now) {
    return { ok: false, reason: 'not_yet_valid', detail: `issued in the future (${new Date(command.issuedAt).toISOString()})` };
  }
  if (context.seenNonce(command.nonce)) {
    return { ok: false, reason: 'replayed', detail: `nonce ${command.nonce} was already used` };
  }
  return { ok: true, command };
}

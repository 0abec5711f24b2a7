// What a verified door command does at this door (device/commands/command-receiver.ts checks the
// signature, expiry and nonce first): pulse a strike, set a door's mode or lock every door down
// until released (local overrides the Decider keeps until the Worker's data carries them), pull
// the member list now, or restart the runtime in place.
import type { DoorCommand } from '../../core/commands.ts';
import type { Decider } from '../access/decider.ts';
import type { EntitlementCache } from '../cache/entitlement-cache.ts';
import type { CommandOutcome } from '../commands/command-receiver.ts';
import type { Door } from '../door/door.ts';
import type { EntitlementSync } from '../sync/entitlement-sync.ts';

export type CommandTarget = {
  cache: EntitlementCache | undefined;
  doors: readonly Door[];
  decider: Decider;
  /** The running sync; undefined while the runtime restarts. */
  sync: EntitlementSync | undefined;
  /** Re-evaluates which doors are held open after a mode changed. */
  evaluateHolds: () => void;
  restart: () => Promise<void>;
  /** The Worker revoked this door: it carries out no command. */
  revoked: boolean;
};

export async function executeCommand(command: DoorCommand, t: CommandTarget): Promise<CommandOutcome> {
  const action = command.action;
  const { cache, decider } = t;
  if (t.revoked) return { status: 'rejected', reason: 'device_revoked', detail: 'this door was revoked; it carries out no command until it is provisioned again' };
  switch (action.type) {
    case 'unlock': {
      const door = t.doors.find((d) => d.id === action.doorId);
      if (!door) return { status: 'rejected', reason: 'unknown_door', detail: `door ${action.doorId} is not wired to this agent` };
      door.relay.pulse(action.seconds * 1000);
      return { status: 'executed', detail: `unlocked for ${action.seconds} s` };
    }
    case 'set_mode': {
      if (!cache?.door(action.doorId) && !t.doors.some((d) => d.id === action.doorId)) {
        return { status: 'rejected', reason: 'unknown_door', detail: `door ${action.doorId} is not known to this agent` };
      }
      decider.setMode(action.doorId, action.mode, command.issuedAt, cache?.serverTime ?? null);
      t.evaluateHolds();
      return { status: 'executed', detail: `mode ${action.mode}, kept by the Worker until changed` };
    }
    case 'lockdown':
      decider.lockDown(command.issuedAt, cache?.serverTime ?? null);
      t.evaluateHolds();
      return { status: 'executed', detail: 'all doors in lockdown until released' };
    case 'release':
      decider.release();
      t.evaluateHolds();
      return { status: 'executed', detail: 'local overrides cleared' };
    case 'sync_now': {
      const sync = t.sync;
      if (!sync) return { status: 'rejected', reason: 'restarting', detail: 'the agent is restarting' };
      await sync.pull('sync_now command', true);
      return { status: 'executed', detail: `entitlement version ${sync.cache?.version ?? 'none'}` };
    }
    case 'restart':
      await t.restart();
      return { status: 'executed', detail: 'restarted in place' };
  }
}

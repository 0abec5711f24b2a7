// Signed door commands from the Worker, over MQTT on the device's command topic. Each message is
// a SignedCommand: the exact command text and an Ed25519 signature over its UTF-8 bytes, made
// with the key whose public half the door received at enrollment. The receiver
//   - ignores retained messages (a command is an instant order, never state);
//   - verifies the signature with WebCrypto, and logs and drops anything that fails (no ack:
//     the sender is not the Worker);
//   - checks the command with core's checkCommand (device, expiry, clock, replay); commands for
//     another device are logged and dropped, every other refusal is acknowledged as rejected;
//   - records the nonce durably, executes, and acknowledges `executed` over HTTPS.
// Messages are handled one at a time, in order.
import { checkCommand, COMMAND_CLOCK_SKEW_MS, SignedCommand, type DoorCommand } from '../../core/commands.ts';
import type { CommandAck } from '../../core/contracts/wire.ts';
import { ApiError, type WorkerClient } from '../api/worker-client.ts';
import { WorkerKey } from '../crypto/worker-key.ts';
import type { Logger } from '../log/logger.ts';
import type { NonceStore } from './nonce-store.ts';

export type CommandOutcome = { status: 'executed'; detail?: string } | { status: 'rejected'; reason: string; detail: string };

export type CommandReceiverOptions = {
  deviceId: string;
  /** Ed25519 raw public key, base64url; null = commands are not configured for this door. */
  publicKey: string | null;
  nonces: NonceStore;
  client: Pick<WorkerClient, 'ackCommand'>;
  log: Logger;
  /** Corrected clock. */
  now: () => number;
  clockSynced: () => boolean;
  execute: (command: DoorCommand) => Promise<CommandOutcome>;
  /** Delays between acknowledgement attempts, ms. Default 1 s, 3 s, 10 s. */
  ackRetryMs?: number[];
};

export class CommandReceiver {
  private chain: Promise<void> = Promise.resolve();
  private readonly key: WorkerKey;
  private readonly acks = new Set<Promise<void>>();
  private readonly acked = new Set<string>();
  private readonly abort = new AbortController();
  private stopped = false;
  private warnedNoKey = false;
  /** Counts, for status. */
  readonly counts = { executed: 0, rejected: 0, ignored: 0 };

  constructor(private readonly options: CommandReceiverOptions) {
    this.key = new WorkerKey(options.publicKey);
  }

  get enabled(): boolean {
    return this.options.publicKey !== null;
  }

  /** Handles one MQTT message from the command topic. */
  receive(payload: Buffer, packet: { retain?: boolean }): Promise<void> {
    const run = this.chain.then(() => this.handle(payload, packet.retain === true));
    this.chain = run.catch((error: unknown) => this.options.log.error('command handling failed', { error }));
    return this.chain;
  }

  private ignore(msg: string, fields: Record<string, unknown> = {}) {
    this.counts.ignored++;
    this.options.log.warn(msg, fields);
  }

  private async handle(payload: Buffer, retained: boolean): Promise<void> {
    const { log } = this.options;
    if (this.stopped) return;
    if (retained) return this.ignore('ignoring a retained command message; commands are never taken from retained state');
    if (this.options.publicKey === null) {
      if (!this.warnedNoKey) log.warn('ignoring a door command: this door has no command key (re-provision it to accept commands)');
      this.warnedNoKey = true;
      this.counts.ignored++;
      return;
    }
    let signed: SignedCommand;
    try {
      signed = SignedCommand.parse(JSON.parse(payload.toString('utf8')));
    } catch {
      return this.ignore('ignoring a command message that is not a signed command');
    }
    const valid = await this.key.verify(signed.command, signed.signature);
    if (!valid) return this.ignore('ignoring a command with a bad signature', { bytes: signed.command.length });

    const check = checkCommand(signed.command, {
      deviceId: this.options.deviceId,
      now: this.options.now(),
      clockSynced: this.options.clockSynced(),
      seenNonce: (nonce) => this.options.nonces.has(nonce),
    });
    if (!check.ok) {
      const id = commandId(signed.command, this.options.deviceId);
      if (check.reason === 'wrong_device' || id === undefined) {
        return this.ignore('ignoring a signed command addressed to another device or without an id', { reason: check.reason, detail: check.detail });
      }
      this.counts.rejected++;
      log.warn('door command rejected', { commandId: id, reason: check.reason, detail: check.detail });
      this.acknowledge(id, { status: 'rejected', reason: check.reason, detail: check.detail });
      return;
    }
    const command = check.command;
    try {
      await this.options.nonces.add(command.nonce, command.expiresAt + COMMAND_CLOCK_SKEW_MS);
    } catch (error) {
      // Without a durable record the command could be replayed after a restart: refuse it.
      log.error('cannot record the command nonce; refusing the command', { commandId: command.id, error });
      this.acknowledge(command.id, { status: 'rejected', reason: 'storage_error', detail: 'the door could not record the command nonce' });
      return;
    }
    log.info('door command received', { commandId: command.id, action: command.action });
    let outcome: CommandOutcome;
    try {
      outcome = await this.options.execute(command);
    } catch (error) {
      outcome = { status: 'rejected', reason: 'failed', detail: (error as Error).message.slice(0, 500) };
    }
    if (outcome.status === 'executed') this.counts.executed++;
    else this.counts.rejected++;
    log[outcome.status === 'executed' ? 'info' : 'warn'](outcome.status === 'executed' ? 'door command executed' : 'door command rejected', {
      commandId: command.id,
      type: command.action.type,
      ...(outcome.status === 'rejected' ? { reason: outcome.reason } : {}),
      ...(outcome.detail ? { detail: outcome.detail } : {}),
    });
    this.acknowledge(command.id, outcome);
  }

  private acknowledge(id: string, outcome: CommandOutcome) {
    // Each command id is acknowledged once: replaying a captured command must not turn the door
    // into a source of HTTPS traffic.
    if (this.acked.has(id)) return;
    this.acked.add(id);
    if (this.acked.size > 4096) this.acked.delete(this.acked.values().next().value as string);
    const ack: CommandAck =
      outcome.status === 'executed'
        ? { status: 'executed', ...(outcome.detail ? { detail: outcome.detail.slice(0, 500) } : {}) }
        : { status: 'rejected', reason: outcome.reason.slice(0, 40), detail: outcome.detail.slice(0, 500) };
    const delays = this.options.ackRetryMs ?? [1000, 3000, 10_000];
    const task = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.options.client.ackCommand(id, ack, this.abort.signal);
          return;
        } catch (error) {
          if (this.stopped) return;
          // A 4xx is the Worker's final word (e.g. a command id it never issued); only network
          // failures and 5xx are worth another try.
          if (error instanceof ApiError && error.status < 500) {
            this.options.log.warn('door command acknowledgement refused', { commandId: id, status: error.status, error: error.message });
            return;
          }
          const delay = delays[attempt];
          if (delay === undefined) {
            this.options.log.warn('cannot acknowledge a door command; giving up', { commandId: id, error: (error as Error).message });
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
          if (this.stopped) return;
        }
      }
    })();
    this.acks.add(task);
    void task.finally(() => this.acks.delete(task));
  }

  /** Waits for queued messages and acknowledgements in flight (tests). */
  async settled(): Promise<void> {
    await this.chain;
    await Promise.all([...this.acks]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Give acknowledgements in flight a moment, then abandon them.
    await Promise.race([Promise.all([...this.acks]), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    this.abort.abort();
  }
}

/** The id of a command addressed to this device, if its text has one. */
function commandId(text: string, deviceId: string): string | undefined {
  try {
    const value = JSON.parse(text) as { id?: unknown; deviceId?: unknown };
    return typeof value.id === 'string' && value.deviceId === deviceId && /^[0-9a-f-]{36}$/i.test(value.id) ? value.id : undefined;
  } catch {
    return undefined;
  }
}

// Signed door commands over MQTT, and the door's presence on the broker.
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandTopic, type CommandAction, type DoorCommand } from '../../core/commands.ts';
import { presenceTopic } from '../../core/contracts/wire.ts';
import { provisionCli, setGrantMs, type RunningAgent } from './support/agent-harness.ts';
import { relayActivity, scenario } from './support/scenario.ts';
import { sleep, waitFor } from './support/wait.ts';

const ctx = scenario();

async function commandRig(options: { commands?: boolean; beforeStart?: (topic: string, deviceId: string) => Promise<void> } = {}) {
  const { worker } = ctx;
  const broker = await ctx.withBroker();
  worker.commandsEnabled = options.commands ?? true;
  const member = worker.addMember('wiegand:1:1');
  const { dataDir } = await provisionCli(worker);
  await setGrantMs(dataDir, 200);
  if (options.beforeStart) {
    const { deviceId: id } = JSON.parse(await readFile(join(dataDir, 'device.json'), 'utf8')) as { deviceId: string };
    await options.beforeStart(commandTopic(worker.topicPrefix, id), id);
  }
  const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
  await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection');
  await sleep(100); // let the subscriptions settle
  const deviceId = r.agent.identity.deviceId;
  const topic = commandTopic(worker.topicPrefix, deviceId);
  const send = async (action: CommandAction, over: Partial<DoorCommand> = {}, sign = (c: DoorCommand) => worker.sign(c)) => {
    const command = worker.command(deviceId, action, over);
    const signed = await sign(command);
    await broker.publish(topic, signed);
    return { command, signed };
  };
  const ackOf = (id: string) => waitFor(() => worker.acks.find((a) => a.id === id), `the acknowledgement of ${id}`);
  return { r, broker, deviceId, topic, send, ackOf, member, dataDir };
}

const frontDoor = (r: RunningAgent) => r.agent.doors()[0]!.id;

describe('signed commands', () => {
  it('executes an unlock: the relay pulses for the given seconds, relocks, and the command is acknowledged', async () => {
    const { r, send, ackOf } = await commandRig();
    const { command } = await send({ type: 'unlock', doorId: frontDoor(r), seconds: 1 });
    expect(await ackOf(command.id)).toMatchObject({ status: 'executed', deviceId: r.agent.identity.deviceId });
    await waitFor(() => relayActivity(r, 1).length === 3, 'the relay to relock', 3000);
    expect(relayActivity(r, 1)).toEqual([0, 1, 0]);
    const writes = r.gpio.writes(r.agent.doors()[0]!.relay.line);
    expect((writes[2]?.at ?? 0) - (writes[1]?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(r.log.records.some((x) => x.msg === 'door command executed' && x.type === 'unlock')).toBe(true);
  });

  it('ignores commands for another device and commands with a bad signature, without acknowledging them', async () => {
    const { r, send } = await commandRig();
    const { worker } = ctx;
    await send({ type: 'lockdown' }, { deviceId: 'dev_someotherdoor000' });
    const stranger = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    await send({ type: 'lockdown' }, {}, (c) => worker.sign(c, stranger));
    // A signature over different text than the command carried.
    await send({ type: 'unlock', doorId: frontDoor(r), seconds: 1 }, {}, async (c) => {
      const signed = await worker.sign(c);
      return { ...signed, command: signed.command.replace('"seconds":1', '"seconds":60') };
    });
    await waitFor(() => r.log.records.filter((x) => /^ignoring a/.test(x.msg)).length === 3, 'the three refusals');
    await r.agent.commandsSettled();
    await sleep(200);
    expect(worker.acks).toEqual([]);
    expect(r.log.records.filter((x) => x.msg === 'ignoring a command with a bad signature')).toHaveLength(2);
    expect(r.log.records.some((x) => x.msg.startsWith('ignoring a signed command addressed to another device') && x.reason === 'wrong_device')).toBe(true);
    expect((await r.status()).overrides.lockdown).toBe(false);
    expect(relayActivity(r, 1)).toEqual([0]);
  });

  it('rejects expired and replayed commands, acknowledging each command id once; never acts on a retained message', async () => {
    // A retained lockdown waiting on the broker reaches the door when it subscribes: ignored.
    let retained: DoorCommand | undefined;
    const { r, send, ackOf, broker, topic } = await commandRig({
      beforeStart: async (commandsTopic, id) => {
        retained = ctx.worker.command(id, { type: 'lockdown' });
        await ctx.broker?.publish(commandsTopic, await ctx.worker.sign(retained), true);
      },
    });
    await waitFor(() => r.log.records.find((x) => /retained command/.test(x.msg)), 'the retained command to be ignored');
    expect((await r.status()).overrides.lockdown).toBe(false);

    const now = ctx.worker.now();
    const expired = await send({ type: 'lockdown' }, { issuedAt: now - 300_000, expiresAt: now - 120_000 });
    expect(await ackOf(expired.command.id)).toMatchObject({ status: 'rejected', reason: 'expired' });

    const once = await send({ type: 'lockdown' });
    expect(await ackOf(once.command.id)).toMatchObject({ status: 'executed' });
    await broker.publish(topic, once.signed);
    await waitFor(() => r.log.records.find((x) => x.msg === 'door command rejected' && x.reason === 'replayed'), 'the replay to be rejected');
    expect((await r.status()).overrides.lockdown).toBe(true);
    // The replay is logged, not acknowledged again: a captured command cannot make the door call out.
    expect(ctx.worker.acks.filter((a) => a.id === once.command.id)).toEqual([expect.objectContaining({ status: 'executed' })]);
    // The nonce is on disk, so a restart does not forget it.
    expect(JSON.parse(await readFile(join(r.agent.dataDir, 'command-nonces.json'), 'utf8')).nonces).toHaveProperty(once.command.nonce);
    expect(ctx.worker.acks.some((a) => a.id === retained?.id)).toBe(false);
  });

  it('lockdown, set_mode and release change the doors at once; data cut before the command never lifts them, data cut after it carries them', async () => {
    const { r, send, ackOf } = await commandRig();
    const issuedAt = ctx.worker.now();
    await ackOf((await send({ type: 'lockdown' }, { issuedAt })).command.id);
    expect((await r.tap({ facility: 1, card: 1 })).decision.reason).toBe('lockdown');
    // A version the Worker cut before the lockdown (it raced the command) keeps the door locked down.
    ctx.worker.addMember('wiegand:1:9');
    ctx.worker.now = () => issuedAt - 1000;
    await r.agent.sync?.pull('test');
    expect((await r.status()).overrides.lockdown).toBe(true);
    expect((await r.tap({ facility: 1, card: 1 })).decision.reason).toBe('lockdown');
    ctx.worker.now = () => Date.now();
    await ackOf((await send({ type: 'release' })).command.id);
    expect((await r.tap({ facility: 1, card: 1 })).decision.granted).toBe(true);

    await ackOf((await send({ type: 'set_mode', doorId: frontDoor(r), mode: 'unlocked' })).command.id);
    await waitFor(async () => (await r.status()).doors[0]?.heldOpen && relayActivity(r, 1).at(-1) === 1, 'the door to be held open');
    expect((await r.status()).doors[0]).toMatchObject({ mode: 'unlocked', heldOpen: true, relayActive: true });
    // A version cut after the command is the Worker's word on the mode (here: changed back to normal).
    ctx.worker.addMember('wiegand:1:2');
    await r.agent.sync?.pull('test');
    await waitFor(() => relayActivity(r, 1).at(-1) === 0, 'the door to relock');
    expect((await r.status()).overrides).toEqual({ lockdown: false, modes: {} });
  });

  it('a lockdown the Worker recorded survives an unrelated change, a restart and a full snapshot until released', async () => {
    const { r, send, ackOf, dataDir } = await commandRig();
    const { worker } = ctx;
    // As the Worker does: the doors' mode first, then the signed command.
    worker.setDoors({ mode: 'lockdown' });
    await ackOf((await send({ type: 'lockdown' })).command.id);
    expect((await r.tap({ facility: 1, card: 1 })).decision.reason).toBe('lockdown');
    worker.setDoor(worker.doors[1]!.id, { name: 'Studio (renamed)' });
    await r.agent.sync?.pull('test');
    expect((await r.status()).overrides.lockdown).toBe(false); // carried by the data now
    expect((await r.tap({ facility: 1, card: 1 })).decision.reason).toBe('lockdown');
    await ctx.stopAgent(r);
    const again = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    expect((await again.tap({ facility: 1, card: 1 })).decision.reason).toBe('lockdown');
    await again.agent.sync?.pull('test', true);
    expect((await again.tap({ facility: 1, card: 1 })).decision.reason).toBe('lockdown');
    worker.setDoors({ mode: 'normal' });
    await again.agent.sync?.pull('test');
    expect((await again.tap({ facility: 1, card: 1 })).decision.granted).toBe(true);
  });

  it('sync_now pulls a full snapshot', async () => {
    const { send, ackOf } = await commandRig();
    const before = ctx.worker.count('/v1/device/snapshot');
    const { command } = await send({ type: 'sync_now' });
    expect(await ackOf(command.id)).toMatchObject({ status: 'executed' });
    expect(ctx.worker.count('/v1/device/snapshot')).toBe(before + 1);
  });

  it('restarts in place: relays lock and stay locked while it restarts, then it works again', async () => {
    const { r, send, ackOf } = await commandRig();
    await ackOf((await send({ type: 'unlock', doorId: frontDoor(r), seconds: 30 })).command.id);
    expect(relayActivity(r, 1).at(-1)).toBe(1);
    const { command } = await send({ type: 'restart' });
    expect(await ackOf(command.id)).toMatchObject({ status: 'executed' });
    const restarted = r.log.records.findIndex((x) => x.msg === 'agent restarted');
    expect(restarted).toBeGreaterThan(0);
    // Locked by the restart (the unlock was cut short) and claimed again locked: no active level since.
    const activity = relayActivity(r, 1);
    expect(activity.slice(0, 2)).toEqual([0, 1]);
    expect(activity.slice(2).every((level) => level === 0)).toBe(true);
    await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection after the restart');
    expect((await r.tap({ facility: 1, card: 1 })).decision.granted).toBe(true);
    expect(relayActivity(r, 1).at(-1)).toBe(1);
    const presence = r.log.records.filter((x) => x.msg === 'broker connected');
    expect(presence.length).toBe(2);
  });

  it('ignores commands with a log line when the door was provisioned without a command key', async () => {
    const { r, send } = await commandRig({ commands: false });
    expect((await r.status()).commandsEnabled).toBe(false);
    await send({ type: 'lockdown' });
    await waitFor(() => r.log.records.find((x) => /no command key/.test(x.msg) && x.level === 'warn'), 'the log line');
    expect(ctx.worker.acks).toEqual([]);
    expect((await r.status()).overrides.lockdown).toBe(false);
  });
});

describe('presence', () => {
  it('publishes retained online on connect and offline on a clean stop; the broker sends the will when the link drops', async () => {
    const { worker } = ctx;
    const broker = await ctx.withBroker();
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir);
    const topic = presenceTopic(worker.topicPrefix, r.agent.identity.deviceId);
    await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection');
    const watcher = await broker.subscriber(topic);
    try {
      const online = await waitFor(() => watcher.messages[0], 'the retained online presence');
      expect(online).toMatchObject({ retain: true, payload: { deviceId: r.agent.identity.deviceId, online: true, at: expect.any(Number) } });

      // The connection drops without a goodbye: the broker publishes the last will.
      const clients = (broker.aedes as unknown as { clients: Record<string, { id: string; conn: { destroy(): void } }> }).clients;
      for (const client of Object.values(clients)) if (client.id === `gymgate-${r.agent.identity.deviceId}`) client.conn.destroy();
      await waitFor(() => watcher.messages.find((m) => (m.payload as { online: boolean }).online === false), 'the last will');
      expect(watcher.messages.at(-1)?.payload).toEqual({ deviceId: r.agent.identity.deviceId, online: false, at: null });
      // The agent reconnects, says it is online again and counts the reconnection.
      await waitFor(() => (watcher.messages.at(-1)?.payload as { online: boolean }).online === true, 'online again', 8000);
      expect((await r.status()).reconnectsLastHour).toBe(1);

      await ctx.stopAgent(r);
      await waitFor(() => (watcher.messages.at(-1)?.payload as { online: boolean }).online === false, 'the offline presence');
      expect(watcher.messages.at(-1)?.payload).toMatchObject({ online: false, at: expect.any(Number) });
    } finally {
      await watcher.close();
    }
    // A newcomer sees the retained offline state.
    const late = await broker.subscriber(topic);
    try {
      const seen = await waitFor(() => late.messages[0], 'the retained presence');
      expect(seen).toMatchObject({ retain: true, payload: { online: false } });
    } finally {
      await late.close();
    }
  });
});

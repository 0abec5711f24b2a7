// An in-process MQTT broker (aedes) on a random loopback port.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';

export async function startBroker() {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    aedes,
    url: `mqtt://127.0.0.1:${port}`,
    /** Publishes a retained QoS 1 message, as the Worker does for entitlement notices. */
    publishRetained(topic: string, payload: unknown): Promise<void> {
      return this.publish(topic, payload, true);
    },
    /** Publishes a QoS 1 message (not retained unless asked), as the Worker does for commands. */
    publish(topic: string, payload: unknown, retain = false): Promise<void> {
      return new Promise((resolve, reject) =>
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), qos: 1, retain, dup: false },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    },
    /** A client that records what arrives on a topic (retained messages included). */
    async subscriber(topic: string) {
      const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `test-${Math.random().toString(36).slice(2)}` });
      const messages: Array<{ payload: unknown; retain: boolean }> = [];
      client.on('message', (_topic, payload, packet) => messages.push({ payload: JSON.parse(payload.toString('utf8')), retain: packet.retain }));
      await client.subscribeAsync(topic, { qos: 1 });
      return { messages, close: () => client.endAsync(true) };
    },
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
      });
    },
  };
}

export type TestBroker = Awaited<ReturnType<typeof startBroker>>;

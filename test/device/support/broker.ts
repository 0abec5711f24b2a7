// An in-process MQTT broker (aedes) on a random loopback port.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

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
      return new Promise((resolve, reject) =>
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: true, dup: false },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
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

// A real MQTT broker (aedes) on a loopback port for the Worker tests, plus a tiny loopback HTTP
// endpoint listing what was published, since code inside workerd cannot subscribe by itself.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { TestProject } from 'vitest/node';

export default async function setup(project: TestProject) {
  const broker = await Aedes.createBroker();
  const published: Array<{ topic: string; payload: string; retain: boolean; qos: number; at: number }> = [];
  broker.on('publish', (packet, client) => {
    if (client) published.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain, qos: packet.qos, at: Date.now() });
  });
  const tcp = createTcpServer(broker.handle);
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const log = createHttpServer((req, res) => {
    const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(published.filter((p) => !topic || p.topic === topic)));
  });
  await new Promise<void>((resolve) => log.listen(0, '127.0.0.1', resolve));
  project.provide('brokerUrl', `mqtt://127.0.0.1:${(tcp.address() as AddressInfo).port}`);
  project.provide('brokerLogUrl', `http://127.0.0.1:${(log.address() as AddressInfo).port}/published`);
  return async () => {
    log.close();
    tcp.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  };
}

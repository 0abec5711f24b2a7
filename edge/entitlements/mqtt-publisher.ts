// Publishes MQTT messages from the Worker over a raw TCP socket (cloudflare:sockets).
// A Worker cannot hold a subscription, so it connects, publishes with QoS 1, waits for the
// broker's PUBACKs and disconnects. Packets are encoded by mqtt-packet's generator; its parser
// depends on Node streams that workerd lacks, and the only packets read back here are CONNACK
// and PUBACK, so those are read by readAcks below.
import { connect } from 'cloudflare:sockets';
import type { Packet } from 'mqtt-packet';
import generateModule from 'mqtt-packet/generate.js';

const generate = generateModule as unknown as (packet: Packet) => Uint8Array;

type Ack = { cmd: 'connack'; returnCode: number } | { cmd: 'puback'; messageId: number } | { cmd: 'other'; type: number };

/** Splits a byte stream into MQTT 3.1.1 control packets and decodes the acknowledgements. */
export class AckReader {
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): Ack[] {
    const merged = new Uint8Array(this.buffer.length + chunk.length);
    merged.set(this.buffer);
    merged.set(chunk, this.buffer.length);
    this.buffer = merged;
    const out: Ack[] = [];
    for (;;) {
      // Fixed header: type in the high nibble, then the remaining length as a base-128 varint.
      let length = 0;
      let multiplier = 1;
      let i = 1;
      for (; ; i++) {
        if (i >= this.buffer.length) return out;
        const byte = this.buffer[i] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
        if (i >= 4) throw new MqttPublishError('malformed remaining length from broker');
      }
      const start = i + 1;
      if (this.buffer.length < start + length) return out;
      const type = (this.buffer[0] as number) >> 4;
      const body = this.buffer.subarray(start, start + length);
      if (type === 2) out.push({ cmd: 'connack', returnCode: body[1] ?? 255 });
      else if (type === 4) out.push({ cmd: 'puback', messageId: ((body[0] ?? 0) << 8) | (body[1] ?? 0) });
      else out.push({ cmd: 'other', type });
      this.buffer = this.buffer.slice(start + length);
    }
  }
}

export type MqttTarget = { url: string; username?: string | undefined; password?: string | undefined };
export type MqttMessage = { topic: string; payload: string; retain: boolean };

export class MqttPublishError extends Error {}

/** Publishes with QoS 1 and waits for every PUBACK. Commands are never retained; notices are. */
export async function publishMessages(
  target: MqttTarget,
  messages: MqttMessage[],
  options: { clientId: string; timeoutMs?: number },
): Promise<void> {
  if (messages.length === 0) return;
  const url = new URL(target.url);
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') {
    throw new MqttPublishError(`MQTT_URL must start with mqtt:// or mqtts://, got ${url.protocol}`);
  }
  const secure = url.protocol === 'mqtts:';
  const socket = connect(
    { hostname: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (secure ? 8883 : 1883)) },
    { secureTransport: secure ? 'on' : 'off', allowHalfOpen: false },
  );
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  const acks = new AckReader();
  const received: Ack[] = [];
  let wake: () => void = () => undefined;

  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MqttPublishError(`broker did not answer within ${options.timeoutMs ?? 5000} ms`)), options.timeoutMs ?? 5000);
  });

  // Reads until a packet matching `want` has arrived.
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      received.push(...acks.push(value));
      wake();
    }
  })();
  const waitFor = async (want: (p: Ack) => boolean): Promise<Ack> => {
    for (;;) {
      const index = received.findIndex(want);
      if (index >= 0) return received.splice(index, 1)[0] as Ack;
      await Promise.race([new Promise<void>((r) => (wake = r)), pump.then(() => Promise.reject(new MqttPublishError('broker closed the connection')))]);
    }
  };

  const work = (async () => {
    // CONNECT and the PUBLISHes in one write: MQTT 3.1.1 (§3.1.4) lets a client send packets right
    // after CONNECT without waiting for the CONNACK, which saves a round trip per notice. A broker
    // that refuses the connection closes it and drops them; the CONNACK says why.
    const packets = [
      generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
        clientId: options.clientId,
        ...(target.username ? { username: target.username } : {}),
        ...(target.password ? { password: Buffer.from(target.password) } : {}),
      }),
      ...messages.map((m, i) => generate({ cmd: 'publish', topic: m.topic, payload: m.payload, qos: 1, retain: m.retain, dup: false, messageId: i + 1 })),
    ];
    const bytes = new Uint8Array(packets.reduce((n, p) => n + p.byteLength, 0));
    packets.reduce((at, p) => (bytes.set(p, at), at + p.byteLength), 0);
    await writer.write(bytes);
    const connack = await waitFor((p) => p.cmd === 'connack');
    if (connack.cmd === 'connack' && connack.returnCode !== 0) {
      throw new MqttPublishError(`broker refused the connection (CONNACK return code ${connack.returnCode})`);
    }
    for (let i = 0; i < messages.length; i++) await waitFor((p) => p.cmd === 'puback');
    await writer.write(generate({ cmd: 'disconnect' }));
  })();

  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    await socket.close().catch(() => undefined);
    pump.catch(() => undefined);
    work.catch(() => undefined);
  }
}

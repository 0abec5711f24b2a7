// The technician's broker checks for `doctor`: the door's own identity gets in, and a stranger
// without credentials does not. A broker that lets anonymous clients in lets anyone on its network
// publish to every door's topics (signatures still keep the doors shut, but commands and notices
// could be suppressed or flooded), so it is reported as a problem.
import mqtt from 'mqtt';

export type BrokerCheck = { check: 'broker-login' | 'broker-anonymous'; status: 'ok' | 'warn' | 'fail'; reason: string };

type Attempt = { connected: true } | { connected: false; refused: boolean; message: string };

async function tryConnect(url: string, options: { username?: string | undefined; password?: string | undefined; timeoutMs: number }): Promise<Attempt> {
  try {
    const client = await mqtt.connectAsync(url, {
      clientId: `gymgate-doctor-${Math.random().toString(36).slice(2, 10)}`,
      reconnectPeriod: 0,
      connectTimeout: options.timeoutMs,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
    });
    await client.endAsync(true).catch(() => undefined);
    return { connected: true };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // CONNACK 4 (bad user name or password) and 5 (not authorised): the broker answered and said no.
    return { connected: false, refused: code === 4 || code === 5, message: (error as Error).message };
  }
}

/** Connects as the door and as a stranger; what the technician needs to know about the broker. */
export async function checkBrokerAccess(url: string, credentials: { username?: string | undefined; password?: string | undefined }, timeoutMs = 5000): Promise<BrokerCheck[]> {
  const out: BrokerCheck[] = [];
  const own = await tryConnect(url, { ...credentials, timeoutMs });
  if (own.connected) out.push({ check: 'broker-login', status: 'ok', reason: `signed in as ${credentials.username ?? '(no user name)'}` });
  else if (own.refused) out.push({ check: 'broker-login', status: 'fail', reason: `the broker refused this door's credentials (${own.message}): revoked? re-provision the door` });
  else out.push({ check: 'broker-login', status: 'fail', reason: `cannot sign in to the broker: ${own.message}` });
  const stranger = await tryConnect(url, { timeoutMs });
  if (stranger.connected) {
    out.push({ check: 'broker-anonymous', status: 'fail', reason: 'the broker accepts anonymous clients: anyone on its network can publish to the doors\u2019 topics; set allow_anonymous false with per-door users and ACLs (README: Broker)' });
  } else if (stranger.refused) out.push({ check: 'broker-anonymous', status: 'ok', reason: 'anonymous clients are refused' });
  return out;
}

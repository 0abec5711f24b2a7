// Puts the broker rules (core/broker-acl.ts) in front of an embedded aedes broker, so the local
// gym and the tests run doors under the same least-privilege identities as production.
//
// aedes 1.2 hooks, as used here:
// - authenticate: refused with an error carrying `returnCode` (CONNACK 2–5). mqtt.js 5 does not
//   reconnect after a refused CONNACK unless `reconnectOnConnackError` is set, so a refused door
//   stays off the broker until it restarts (its periodic pulls continue).
// - authorizeSubscribe: `callback(null, null)` refuses one subscription (SUBACK 0x80) and keeps
//   the client; an error would close it. It also runs when a persistent session's subscriptions
//   are restored, so narrowed rules apply there too.
// - authorizePublish: any error closes the client (MQTT 3.1.1 has no way to refuse one PUBLISH)
//   and the message is not delivered. It also runs for the last will when a client goes away
//   uncleanly, and with `client === null` for wills left behind by a broker that died; there an
//   error would be emitted as an unhandled 'error' on the broker, so those pass.
// - authorizeForward: returning null skips delivery of one message to one client.
// - The will is not checked at CONNECT, so we check it in authenticate (preConnect sees it).
import type { Aedes, AuthenticateError, Client } from 'aedes';
import { authorize, describeIdentity, mayReceive, type AclRule, type BrokerIdentity } from '../../core/broker-acl.ts';

export type BrokerIdentityWithRules = BrokerIdentity & { rules: AclRule[] };

export type BrokerGuardOptions = {
  /** Checks credentials; the identity and its rules, or null to refuse. Throwing means "cannot tell now". */
  authenticate: (username: string, password: string, clientId: string) => Promise<BrokerIdentityWithRules | null>;
  /** How often connected clients are re-authenticated, so revoked doors are dropped. */
  recheckMs?: number;
  log?: (msg: string, fields: object) => void;
};

type Session = { username: string; password: string; identity: BrokerIdentityWithRules; who: string; revoked: boolean };

const DEFAULT_RECHECK_MS = 5000;

const ruleKey = (rules: readonly AclRule[]) =>
  rules
    .map((r) => `${r.permission} ${r.action} ${r.topic}`)
    .sort()
    .join('\n');

function authError(returnCode: 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Replaces the broker's authenticate/authorize hooks with the gymgate rules and wraps its
 * preConnect. `stop()` ends the re-checks; the hooks stay, so the broker stays closed to strangers.
 */
export function guardBroker(broker: Aedes, options: BrokerGuardOptions): { stop: () => void } {
  const log = options.log ?? (() => {});
  const sessions = new WeakMap<Client, Session>();
  const willTopics = new WeakMap<Client, string>();
  const live = new Set<Client>();

  const previousPreConnect = broker.preConnect;
  broker.preConnect = (client, packet, callback) => {
    if (packet.will) willTopics.set(client, packet.will.topic);
    previousPreConnect.call(broker, client, packet, callback);
  };

  broker.authenticate = (client, username, password, done) => {
    const refuse = (returnCode: 3 | 4 | 5, reason: string) => {
      log('broker refused a connection', { clientId: client.id, username: username ?? null, reason });
      done(authError(returnCode, reason), null);
    };
    if (!username || !password) return refuse(5, 'anonymous clients are not accepted');
    const secret = password.toString('utf8');
    options.authenticate(username, secret, client.id).then(
      (identity) => {
        if (!identity) return refuse(4, `unknown user or wrong password for ${username}`);
        const who = describeIdentity(identity);
        const will = willTopics.get(client);
        if (will !== undefined) {
          const decision = authorize(identity.rules, 'publish', will, who);
          if (!decision.allowed) return refuse(5, `last will refused: ${decision.reason}`);
        }
        sessions.set(client, { username, password: secret, identity, who, revoked: false });
        done(null, true);
      },
      (error: unknown) => refuse(3, `cannot check credentials now: ${error instanceof Error ? error.message : String(error)}`),
    );
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) return callback(null);
    const session = sessions.get(client);
    if (!session) return callback(new Error('publish from a client that never authenticated'));
    if (session.revoked) {
      log('broker refused a publish', { clientId: client.id, topic: packet.topic, reason: `${session.who} was revoked` });
      return callback(new Error(`${session.who} was revoked`));
    }
    const decision = authorize(session.identity.rules, 'publish', packet.topic, session.who);
    if (!decision.allowed) {
      log('broker refused a publish', { clientId: client.id, topic: packet.topic, reason: decision.reason });
      return callback(new Error(decision.reason));
    }
    callback(null);
  };

  broker.authorizeSubscribe = (client, subscription, callback) => {
    const session = sessions.get(client);
    const decision = !session
      ? { allowed: false, reason: 'client never authenticated' }
      : session.revoked
        ? { allowed: false, reason: `${session.who} was revoked` }
        : authorize(session.identity.rules, 'subscribe', subscription.topic, session.who);
    if (!decision.allowed) {
      log('broker refused a subscription', { clientId: client.id, topic: subscription.topic, reason: decision.reason });
      return callback(null, null);
    }
    callback(null, subscription);
  };

  // Subscriptions are exact, so this only matters if rules narrowed under a live session.
  broker.authorizeForward = (client, packet) => {
    const session = sessions.get(client);
    if (!session || session.revoked || !mayReceive(session.identity.rules, packet.topic)) return null;
    return packet;
  };

  const onClient = (client: Client) => {
    if (sessions.has(client)) live.add(client);
  };
  const onDisconnect = (client: Client) => {
    live.delete(client);
  };
  broker.on('client', onClient);
  broker.on('clientDisconnect', onDisconnect);

  async function recheckClient(client: Client): Promise<void> {
    const session = sessions.get(client);
    if (!session || client.closed) {
      live.delete(client);
      return;
    }
    let current: BrokerIdentityWithRules | null;
    try {
      current = await options.authenticate(session.username, session.password, client.id);
    } catch (error) {
      // An outage of whatever checks credentials should not drop every door at once.
      log('broker could not re-check a client; keeping it', { clientId: client.id, who: session.who, error: String(error) });
      return;
    }
    if (client.closed) return;
    if (!current) {
      // Revoked: refuse its last will too, as mosquitto does when a reload drops a client.
      session.revoked = true;
      live.delete(client);
      log('broker closed a client whose credentials were revoked', { clientId: client.id, who: session.who });
      client.close();
      return;
    }
    if (ruleKey(current.rules) !== ruleKey(session.identity.rules)) {
      // Subscriptions were granted under the old rules; reconnecting re-subscribes under the new.
      live.delete(client);
      log('broker closed a client whose rules changed', { clientId: client.id, who: session.who });
      client.close();
    }
  }

  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void Promise.all([...live].map(recheckClient)).finally(() => {
      checking = false;
    });
  }, options.recheckMs ?? DEFAULT_RECHECK_MS);
  timer.unref();

  return {
    stop: () => {
      clearInterval(timer);
      broker.off('client', onClient);
      broker.off('clientDisconnect', onDisconnect);
    },
  };
}

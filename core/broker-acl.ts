// Who may do what on the MQTT broker. Every door gets its own broker identity that can read only
// its site's entitlement notices and its own commands, and write only its own presence; the
// Worker's publisher identity can only write notices and commands. Pure: the broker shells
// (aedes guard, mosquitto files, an EMQX HTTP hook) all turn these rules into their own form.
import { z } from 'zod';
import { commandTopic } from './commands.ts';
import { entitlementTopic, presenceTopic } from './contracts/wire.ts';

export type BrokerIdentity =
  | { role: 'device'; organisationId: string; siteId: string; deviceId: string }
  | { role: 'publisher' };

export type BrokerAction = 'publish' | 'subscribe';

/** Only allow rules exist: anything no rule allows is refused. `topic` may hold wildcards. */
export type AclRule = { permission: 'allow'; action: BrokerAction; topic: string };

export const BrokerAction = z.enum(['publish', 'subscribe']);

export const AclRule = z
  .object({ permission: z.literal('allow'), action: BrokerAction, topic: z.string().min(1) })
  .meta({ id: 'BrokerAclRule', description: 'One allow rule, in the shape EMQX 5 accepts in an authentication response' });

// An id becomes one topic level: a `/`, `+`, `#` or leading `$` in it would widen the rule.
const ID_LEVEL = /^[A-Za-z0-9_-]+$/;

function checkId(kind: string, id: string): string {
  if (!ID_LEVEL.test(id)) throw new Error(`${kind} "${id}" cannot be used in a broker topic: only letters, digits, _ and - are allowed`);
  return id;
}

function checkPrefix(prefix: string): string {
  const levels = prefix.split('/');
  const bad = levels.some((level) => level === '' || level.includes('+') || level.includes('#') || level.includes('\u0000'));
  if (bad || prefix.startsWith('$')) {
    throw new Error(`topic prefix "${prefix}" must be non-empty levels without wildcards, not starting with $`);
  }
  return prefix;
}

/** The rules for one broker identity; `prefix` is the deployment's topic prefix (`gymgate`). */
export function brokerRules(identity: BrokerIdentity, prefix: string): AclRule[] {
  const root = checkPrefix(prefix);
  if (identity.role === 'publisher') {
    return [
      { permission: 'allow', action: 'publish', topic: `${root}/+/sites/+/entitlements` },
      { permission: 'allow', action: 'publish', topic: `${root}/+/devices/+/commands` },
    ];
  }
  const orgPrefix = `${root}/${checkId('organisation id', identity.organisationId)}`;
  const siteId = checkId('site id', identity.siteId);
  const deviceId = checkId('device id', identity.deviceId);
  return [
    { permission: 'allow', action: 'subscribe', topic: entitlementTopic(orgPrefix, siteId) },
    { permission: 'allow', action: 'subscribe', topic: commandTopic(orgPrefix, deviceId) },
    { permission: 'allow', action: 'publish', topic: presenceTopic(orgPrefix, deviceId) },
  ];
}

/** How a reason names the client: `device dev_…` or `the publisher`. */
export const describeIdentity = (identity: BrokerIdentity): string =>
  identity.role === 'device' ? `device ${identity.deviceId}` : 'the publisher';

const hasWildcard = (s: string) => s.includes('+') || s.includes('#');

/** A topic name a client may publish to: non-empty, no wildcards, no NUL. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !hasWildcard(topic) && !topic.includes('\u0000');
}

/** A subscription filter: `+` and `#` only as whole levels, `#` only last. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    return level === '+' || !hasWildcard(level);
  });
}

/**
 * MQTT matching of a topic name against a filter. A filter starting with a wildcard does not
 * match `$`-topics (MQTT 3.1.1 §4.7.2), and `a/#` also matches `a`.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (!isValidTopicFilter(filter) || !isValidTopicName(topic)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic `filter` can match is also matched by `ruleFilter`, so granting the
 * subscription cannot deliver anything the rule does not allow. For a literal rule this is
 * plain equality.
 */
export function filterCovers(ruleFilter: string, filter: string): boolean {
  if (!isValidTopicFilter(ruleFilter) || !isValidTopicFilter(filter)) return false;
  const r = ruleFilter.split('/');
  const f = filter.split('/');
  // `$SYS/#` matches only $-topics, which a rule starting with a wildcard never matches.
  if (filter.startsWith('$') && (r[0] === '+' || r[0] === '#')) return false;
  for (let i = 0; i < r.length; i++) {
    const rule = r[i];
    if (rule === '#') return true;
    if (i >= f.length) return false;
    const level = f[i];
    if (level === '#') return false;
    if (level === '+') {
      if (rule !== '+') return false;
    } else if (rule !== '+' && rule !== level) {
      return false;
    }
  }
  return r.length === f.length;
}

export type Authorization = { allowed: boolean; reason: string };

/**
 * Decides one publish (a topic name) or subscription (a filter) against allow rules. A
 * subscription must be covered by a subscribe rule, so `#` or `gymgate/+/…` is refused outright
 * rather than granted and filtered. `who` names the client in the reason.
 */
export function authorize(rules: readonly AclRule[], action: BrokerAction, topicOrFilter: string, who = 'this client'): Authorization {
  const shown = JSON.stringify(topicOrFilter);
  const candidates = rules.filter((rule) => rule.permission === 'allow' && rule.action === action);
  if (action === 'publish') {
    if (!isValidTopicName(topicOrFilter)) {
      return { allowed: false, reason: `${who} may not publish to ${shown}: a publish topic must be non-empty and hold no wildcards` };
    }
    const rule = candidates.find((r) => topicMatches(r.topic, topicOrFilter));
    return rule
      ? { allowed: true, reason: `${who} may publish to ${shown} (rule ${rule.topic})` }
      : { allowed: false, reason: `${who} may not publish to ${shown}` };
  }
  if (!isValidTopicFilter(topicOrFilter)) {
    return { allowed: false, reason: `${who} may not subscribe to ${shown}: it is not a valid topic filter` };
  }
  const rule = candidates.find((r) => filterCovers(r.topic, topicOrFilter));
  if (rule) return { allowed: true, reason: `${who} may subscribe to ${shown} (rule ${rule.topic})` };
  const wider = hasWildcard(topicOrFilter) && candidates.length > 0 ? ', only to its own topics' : '';
  return { allowed: false, reason: `${who} may not subscribe to ${shown}${wider}` };
}

/**
 * Whether a message on `topic` may be delivered to a client holding `rules` (its read side):
 * a guard against subscriptions granted under rules that have since narrowed.
 */
export const mayReceive = (rules: readonly AclRule[], topic: string): boolean =>
  rules.some((rule) => rule.permission === 'allow' && rule.action === 'subscribe' && topicMatches(rule.topic, topic));

// Shapes for a broker that asks us over HTTP, as EMQX 5 does: its HTTP authenticator posts the
// CONNECT credentials and accepts `{result, is_superuser, acl}` (the `acl` list since 5.8; rules
// that match nothing fall through to the authorizers, so EMQX must run with `no_match = deny`);
// its HTTP authorizer posts each publish/subscribe and accepts `{result}`.

export const BrokerAuthRequest = z
  .object({
    clientid: z.string().optional(),
    username: z.string().min(1),
    password: z.string(),
  })
  .meta({ id: 'BrokerAuthRequest' });
export type BrokerAuthRequest = z.infer<typeof BrokerAuthRequest>;

export const BrokerAuthResult = z
  .object({
    result: z.enum(['allow', 'deny']),
    // Never true for gymgate identities: a superuser skips every ACL.
    is_superuser: z.boolean(),
    acl: z.array(AclRule).optional(),
  })
  .meta({ id: 'BrokerAuthResult' });
export type BrokerAuthResult = z.infer<typeof BrokerAuthResult>;

export const BrokerAuthorizeRequest = z
  .object({
    username: z.string(),
    clientid: z.string().optional(),
    topic: z.string(),
    action: BrokerAction,
  })
  .meta({ id: 'BrokerAuthorizeRequest' });
export type BrokerAuthorizeRequest = z.infer<typeof BrokerAuthorizeRequest>;

export const BrokerAuthorizeResult = z.object({ result: z.enum(['allow', 'deny']) }).meta({ id: 'BrokerAuthorizeResult' });
export type BrokerAuthorizeResult = z.infer<typeof BrokerAuthorizeResult>;

import { describe, expect, it } from 'vitest';
import {
  authorize,
  BrokerAuthResult,
  brokerRules,
  describeIdentity,
  filterCovers,
  mayReceive,
  topicMatches,
  type BrokerIdentity,
} from '../../core/broker-acl.ts';
import { mosquittoAclFile, mosquittoPasswordFile } from '../../edge/devices/broker/mosquitto-files.ts';
import { hashBrokerPassword, verifyBrokerPassword } from '../../edge/devices/broker/password-hash.ts';

const P = 'gymgate';
const door: BrokerIdentity = { role: 'device', organisationId: 'org_0123456789', siteId: 'site_aaaaaaaaaa', deviceId: 'dev_aaaaaaaaaa' };
const otherDoor: BrokerIdentity = { role: 'device', organisationId: 'org_0123456789', siteId: 'site_bbbbbbbbbb', deviceId: 'dev_bbbbbbbbbb' };
const publisher: BrokerIdentity = { role: 'publisher' };

const org = `${P}/org_0123456789`;
const own = {
  notices: `${org}/sites/site_aaaaaaaaaa/entitlements`,
  commands: `${org}/devices/dev_aaaaaaaaaa/commands`,
  presence: `${org}/devices/dev_aaaaaaaaaa/presence`,
};
const other = {
  notices: `${org}/sites/site_bbbbbbbbbb/entitlements`,
  commands: `${org}/devices/dev_bbbbbbbbbb/commands`,
  presence: `${org}/devices/dev_bbbbbbbbbb/presence`,
};

const doorRules = brokerRules(door, P);
const publisherRules = brokerRules(publisher, P);
const can = (rules: typeof doorRules, action: 'publish' | 'subscribe', topic: string) => authorize(rules, action, topic).allowed;

describe('broker rules for a door', () => {
  it('are exactly its site notices and own commands to read, its own presence to write', () => {
    expect(doorRules).toEqual([
      { permission: 'allow', action: 'subscribe', topic: own.notices },
      { permission: 'allow', action: 'subscribe', topic: own.commands },
      { permission: 'allow', action: 'publish', topic: own.presence },
    ]);
  });

  it('allow its own topics', () => {
    expect(can(doorRules, 'subscribe', own.notices)).toBe(true);
    expect(can(doorRules, 'subscribe', own.commands)).toBe(true);
    expect(can(doorRules, 'publish', own.presence)).toBe(true);
  });

  it('refuse publishing notices, commands or another door’s presence', () => {
    expect(can(doorRules, 'publish', own.notices)).toBe(false);
    expect(can(doorRules, 'publish', own.commands)).toBe(false);
    expect(can(doorRules, 'publish', other.notices)).toBe(false);
    expect(can(doorRules, 'publish', other.commands)).toBe(false);
    expect(can(doorRules, 'publish', other.presence)).toBe(false);
    expect(can(doorRules, 'publish', `${P}/org_9999999999/devices/dev_aaaaaaaaaa/presence`)).toBe(false);
  });

  it('refuse wildcard subscriptions even where they would cover its own topics', () => {
    for (const filter of ['#', `${P}/#`, `${org}/#`, `${P}/+/sites/+/entitlements`, `${org}/sites/+/entitlements`, `${org}/devices/dev_aaaaaaaaaa/+`, '+/+/+/+/+']) {
      expect(can(doorRules, 'subscribe', filter), filter).toBe(false);
    }
  });

  it('refuse another site’s notices, another door’s commands, and presence topics', () => {
    expect(can(doorRules, 'subscribe', other.notices)).toBe(false);
    expect(can(doorRules, 'subscribe', other.commands)).toBe(false);
    expect(can(doorRules, 'subscribe', own.presence)).toBe(false);
    expect(can(doorRules, 'subscribe', '$SYS/#')).toBe(false);
  });

  it('refuse a publish to a wildcard topic, even one its rule would match', () => {
    const reason = authorize(doorRules, 'publish', `${org}/devices/+/presence`, describeIdentity(door));
    expect(reason).toEqual({ allowed: false, reason: expect.stringContaining('wildcards') });
  });

  it('give reasons that name the door and the topic', () => {
    const refused = authorize(doorRules, 'publish', other.presence, describeIdentity(door));
    expect(refused.reason).toBe(`device dev_aaaaaaaaaa may not publish to "${other.presence}"`);
    const wide = authorize(doorRules, 'subscribe', '#', describeIdentity(door));
    expect(wide.reason).toBe('device dev_aaaaaaaaaa may not subscribe to "#", only to its own topics');
    expect(authorize(doorRules, 'subscribe', own.commands, 'device dev_aaaaaaaaaa').reason).toContain('may subscribe');
  });

  it('cannot be widened by ids or prefixes holding topic syntax', () => {
    expect(() => brokerRules({ ...door, deviceId: '+' }, P)).toThrow(/device id/);
    expect(() => brokerRules({ ...door, siteId: 'site_a/#' }, P)).toThrow(/site id/);
    expect(() => brokerRules({ ...door, organisationId: '' }, P)).toThrow(/organisation id/);
    expect(() => brokerRules(door, 'gym/#')).toThrow(/prefix/);
    expect(() => brokerRules(door, '$SYS')).toThrow(/prefix/);
    expect(brokerRules(door, 'acme/gymgate')[0]?.topic).toBe('acme/gymgate/org_0123456789/sites/site_aaaaaaaaaa/entitlements');
  });
});

describe('broker rules for the publisher', () => {
  it('allow notices and commands for any organisation, site and door', () => {
    for (const topic of [own.notices, other.notices, own.commands, other.commands, `${P}/org_zzzzzzzzzz/sites/site_q/entitlements`, `${P}/org_zzzzzzzzzz/devices/dev_q/commands`]) {
      expect(can(publisherRules, 'publish', topic), topic).toBe(true);
    }
  });

  it('refuse presence, other shapes, other prefixes and every subscription', () => {
    expect(can(publisherRules, 'publish', own.presence)).toBe(false);
    expect(can(publisherRules, 'publish', `${org}/sites/site_aaaaaaaaaa/entitlements/extra`)).toBe(false);
    expect(can(publisherRules, 'publish', `other/org_0123456789/sites/site_aaaaaaaaaa/entitlements`)).toBe(false);
    expect(can(publisherRules, 'publish', `${P}/sites/site_aaaaaaaaaa/entitlements`)).toBe(false);
    for (const filter of ['#', own.notices, own.commands, own.presence, `${P}/+/sites/+/entitlements`]) {
      expect(can(publisherRules, 'subscribe', filter), filter).toBe(false);
    }
    expect(authorize(publisherRules, 'subscribe', '#', describeIdentity(publisher)).reason).toBe('the publisher may not subscribe to "#"');
  });
});

describe('MQTT topic matching', () => {
  it('handles + and #, including # matching the parent level', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/d')).toBe(false);
    expect(topicMatches('a/+', 'a/b/c')).toBe(false);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(topicMatches('a/#', 'a')).toBe(true);
    expect(topicMatches('#', 'a/b')).toBe(true);
    expect(topicMatches('+', '')).toBe(false);
    expect(topicMatches('+/+', '/b')).toBe(true);
    expect(topicMatches('a/b', 'a/b')).toBe(true);
    expect(topicMatches('a/b', 'a/b/')).toBe(false);
  });

  it('does not match $-topics with a leading wildcard', () => {
    expect(topicMatches('#', '$SYS/broker/load')).toBe(false);
    expect(topicMatches('+/broker/load', '$SYS/broker/load')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/broker/load')).toBe(true);
    expect(topicMatches('$SYS/+/load', '$SYS/broker/load')).toBe(true);
  });

  it('rejects malformed filters and wildcard topic names', () => {
    expect(topicMatches('a/#/c', 'a/b/c')).toBe(false);
    expect(topicMatches('a+', 'a+')).toBe(false);
    expect(topicMatches('a/b', 'a/+')).toBe(false);
    expect(authorize(doorRules, 'subscribe', `${own.notices}#`).allowed).toBe(false);
  });

  it('decides coverage of one filter by another', () => {
    expect(filterCovers('a/#', 'a/+/c')).toBe(true);
    expect(filterCovers('a/+/c', 'a/b/c')).toBe(true);
    expect(filterCovers('a/+/c', 'a/#')).toBe(false);
    expect(filterCovers('a/b', 'a/+')).toBe(false);
    expect(filterCovers('#', '$SYS/#')).toBe(false);
    expect(mayReceive(doorRules, own.commands)).toBe(true);
    expect(mayReceive(doorRules, other.commands)).toBe(false);
  });
});

describe('broker HTTP hook shapes', () => {
  it('accept an EMQX-style authentication result carrying the rules', () => {
    const result = BrokerAuthResult.parse({ result: 'allow', is_superuser: false, acl: doorRules });
    expect(result.acl).toHaveLength(3);
    expect(BrokerAuthResult.safeParse({ result: 'allow', is_superuser: false, acl: [{ permission: 'deny', action: 'publish', topic: '#' }] }).success).toBe(false);
  });
});

// Produced by mosquitto_passwd 2.0.11 (`-b`, `-H sha512`, `-I 1000`).
const MOSQUITTO_VECTORS = {
  pbkdf2: { password: 'correct horse battery staple', stored: '$7$101$w6Xuiu5TWiWBbBlm$988o3cQEaqSqCPFQ8TywRts1g/55styWmskRbnwFkKOKdSsCIfG0iPhZT53ks8PqxV/pl4Hm6VjIYHV1AomEIg==' },
  sha512: { password: 'correct horse battery staple', stored: '$6$73+4adyAGG1uSfs1$zbZbryuW+8B/PBw7ortOHW/Qet2SVxxZJf8pemhf/sKWoaQl3C43Kah9VnQoyNiyFwKTULak7SrG7CkzBMKOtQ==' },
  utf8: { password: 'pässwörd', stored: '$7$1000$hzLxKt4HzAenC48p$ZwekelTSmxmzIlhiGs16o4ZJ7T++eJ7Qzv4ybCWFcszq8QwG/CjgT6v+ZwkIQNISxue//YfGAWDB8f0qRsfJhA==' },
};

const saltOf = (stored: string) => Uint8Array.from(atob(stored.split('$')[3] as string), (c) => c.charCodeAt(0));

describe('broker password hashes', () => {
  it('round-trip in mosquitto’s $7$ format with a 12-byte salt and 64-byte hash', async () => {
    const stored = await hashBrokerPassword('s3cret-door-password');
    expect(stored).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(await verifyBrokerPassword('s3cret-door-password', stored)).toBe(true);
    expect(await verifyBrokerPassword('s3cret-door-passwore', stored)).toBe(false);
    expect(await hashBrokerPassword('s3cret-door-password')).not.toBe(stored);
  });

  it('verify hashes written by mosquitto_passwd, and reproduce them from the same salt', async () => {
    for (const { password, stored } of Object.values(MOSQUITTO_VECTORS)) {
      expect(await verifyBrokerPassword(password, stored), stored).toBe(true);
      expect(await verifyBrokerPassword(`${password}!`, stored), stored).toBe(false);
    }
    const { password, stored } = MOSQUITTO_VECTORS.pbkdf2;
    expect(await hashBrokerPassword(password, { salt: saltOf(stored) })).toBe(stored);
    const utf8 = MOSQUITTO_VECTORS.utf8;
    expect(await hashBrokerPassword(utf8.password, { salt: saltOf(utf8.stored), iterations: 1000 })).toBe(utf8.stored);
  });

  it('never verify malformed or unknown stored values', async () => {
    const { password, stored } = MOSQUITTO_VECTORS.pbkdf2;
    for (const bad of ['', password, stored.replace('$7$', '$8$'), stored.replace('$101$', '$0$'), stored.slice(0, -4), `${stored}$x`, '$argon2id$v=19$m=47104,t=1,p=1$abc$def']) {
      expect(await verifyBrokerPassword(password, bad), bad).toBe(false);
    }
  });

  it('refuse salts mosquitto 2.0 cannot read and passwords it would cut at a NUL', async () => {
    await expect(hashBrokerPassword('x', { salt: new Uint8Array(16) })).rejects.toThrow(/12-byte/);
    await expect(hashBrokerPassword('a\u0000b')).rejects.toThrow(/NUL/);
    await expect(hashBrokerPassword('x', { iterations: 0 })).rejects.toThrow(/iterations/);
  });
});

describe('mosquitto files', () => {
  it('render a password line per user and a user block per identity', async () => {
    const hash = MOSQUITTO_VECTORS.pbkdf2.stored;
    expect(mosquittoPasswordFile([{ username: 'dev_aaaaaaaaaa', hash }])).toBe(`dev_aaaaaaaaaa:${hash}\n`);
    expect(mosquittoAclFile([{ username: 'dev_aaaaaaaaaa', rules: doorRules }])).toBe(
      [
        '# Generated by gymgate; edits are overwritten.',
        '',
        'user dev_aaaaaaaaaa',
        `topic read ${own.notices}`,
        `topic read ${own.commands}`,
        `topic write ${own.presence}`,
        '',
      ].join('\n'),
    );
  });

  it('refuse usernames and topics that would parse as something else', () => {
    const hash = MOSQUITTO_VECTORS.pbkdf2.stored;
    expect(() => mosquittoPasswordFile([{ username: 'a:b', hash }])).toThrow();
    expect(() => mosquittoPasswordFile([{ username: 'a', hash: 'plain' }])).toThrow();
    expect(() => mosquittoPasswordFile([{ username: 'a', hash }, { username: 'a', hash }])).toThrow(/twice/);
    expect(() => mosquittoAclFile([{ username: 'a\nuser b', rules: [] }])).toThrow();
    expect(() => mosquittoAclFile([{ username: 'a', rules: [{ permission: 'allow', action: 'publish', topic: 'a b\ntopic readwrite #' }] }])).toThrow();
  });
});

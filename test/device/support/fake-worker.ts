// A loopback test double of the gymgate Worker's device endpoints (enroll, snapshot, entitlements
// since a version, heartbeat, command acknowledgements, check-ins), answering with the shapes in
// core/contracts/wire.ts. It keeps a site's entitlement state with a change log, so it can answer
// with deltas, and signs door commands with its own Ed25519 key. The real Worker is covered by
// the e2e suite.
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CommandAction, DoorCommand, SignedCommand } from '../../../core/commands.ts';
import {
  CheckinBatch,
  DoorAlarmBatch,
  type CheckinUpload,
  type DoorAlarmUpload,
  type CommandAck,
  type EntitlementDelta,
  type EntitlementSnapshot,
  type EntitlementUpdate,
  type Heartbeat,
  type SignedDeltaBody,
} from '../../../core/contracts/wire.ts';
import { EntitlementHash } from '../../../core/entitlement-hash.ts';
import { DEFAULT_PROFILE, type AccessProfile, type DoorPolicy, type MemberAccess, type SitePolicy } from '../../../core/entitlement.ts';
import type { Schedule } from '../../../core/schedule.ts';

export const newId = (prefix: string, length = 16) =>
  `${prefix}_${[...randomBytes(length)].map((b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('')}`;

type CodeState = 'fresh' | 'used' | 'expired';

export type RecordedRequest = { method: string; path: string; query: string; headers: IncomingMessage['headers']; at: number };

/** A member as the fake keeps it: MemberAccess with its profile by id. */
export type FakeMember = Omit<MemberAccess, 'profile'> & { profileId: string };

type Change = { version: number; members: Set<string>; keys: Set<string>; site: boolean; schedules: boolean; doors: boolean; profiles: boolean };

export const door = (name: string, over: Partial<DoorPolicy> = {}): DoorPolicy => ({
  id: newId('door'),
  name,
  group: 'general',
  mode: 'normal',
  unlockSchedule: null,
  antiPassbackSeconds: 0,
  maxOfflineSeconds: 72 * 3600,
  grantSeconds: 5,
  ...over,
});

const b64url = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('base64url');

export class FakeWorker {
  readonly organisationId = newId('org');
  readonly siteId = newId('site');
  readonly topicPrefix = 'gymgate-test';
  readonly codes = new Map<string, CodeState>();
  readonly tokens = new Map<string, string>();
  /** Devices revoked: their tokens are answered with the Worker's device-revoked problem. */
  readonly revoked = new Set<string>();
  readonly checkins: CheckinUpload[] = [];
  readonly alarms: DoorAlarmUpload[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly heartbeats: Array<Heartbeat & { deviceId: string }> = [];
  readonly acks: Array<CommandAck & { id: string; deviceId: string }> = [];
  duplicates = 0;
  /** The broker handed out at enrollment, or null. */
  mqtt: { url: string } | null = null;
  /** Answer this many check-in uploads with 503 before accepting. */
  failCheckins = 0;
  /** Answer this many door alarm uploads with 503 before accepting. */
  failAlarms = 0;
  /** Answer `entitlements?since` with deltas when the log reaches back (else snapshots). */
  deltas = true;
  /** Leave the member changes out of the next delta (a lost change: the door drifts). */
  loseNextDeltaMembers = false;
  /** When set, heartbeats report this hash instead of the real one. */
  heartbeatHash: string | undefined;
  /** Hand out the command key at enrollment. */
  commandsEnabled = true;
  /** The server clock (tests move it to simulate a door with a wrong clock). */
  now: () => number = Date.now;

  site: SitePolicy;
  schedules: Record<string, Schedule> = {};
  doorList: DoorPolicy[];
  profiles: AccessProfile[] = [DEFAULT_PROFILE];
  readonly members = new Map<string, FakeMember>();
  readonly credentials = new Map<string, string>();
  version = 1;
  private readonly log: Change[] = [];
  private keys: webcrypto.CryptoKeyPair | undefined;
  commandPublicKey: string | null = null;
  private server: Server | undefined;
  port = 0;

  constructor(doors: Array<string | DoorPolicy> = ['Front door', 'Studio']) {
    this.site = { id: this.siteId, timezone: 'UTC', closures: [] };
    this.doorList = doors.map((d) => (typeof d === 'string' ? door(d) : d));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get doors(): DoorPolicy[] {
    return this.doorList;
  }

  issueCode(state: CodeState = 'fresh'): string {
    const code = randomBytes(5).toString('hex').toUpperCase();
    this.codes.set(code, state);
    return code;
  }

  // State changes; each bumps the version and records what changed.

  change(what: Partial<Omit<Change, 'version'>> & { memberIds?: string[]; keyList?: string[] }): number {
    this.version++;
    this.log.push({
      version: this.version,
      members: new Set(what.memberIds ?? []),
      keys: new Set(what.keyList ?? []),
      site: what.site ?? false,
      schedules: what.schedules ?? false,
      doors: what.doors ?? false,
      profiles: what.profiles ?? false,
    });
    return this.version;
  }

  /** Forgets the change log, so the next `since` pull gets a snapshot. */
  truncateLog(): void {
    this.log.length = 0;
  }

  /** Adds a member holding the credential key; bumps the version. */
  addMember(key: string, status: MemberAccess['status'] = 'active', over: Partial<FakeMember> = {}): string {
    const id = over.id ?? newId('mem', 22);
    this.members.set(id, {
      id,
      status,
      suspension: status === 'suspended' ? 'staff' : null,
      profileId: DEFAULT_PROFILE.id,
      validFrom: null,
      validUntil: null,
      entriesLeft: null,
      bookings: [],
      ...over,
    });
    this.credentials.set(key, id);
    this.change({ memberIds: [id], keyList: [key] });
    return id;
  }

  updateMember(memberId: string, over: Partial<FakeMember>): void {
    const m = this.members.get(memberId);
    if (!m) throw new Error(`no member ${memberId}`);
    this.members.set(memberId, { ...m, ...over });
    this.change({ memberIds: [memberId] });
  }

  setStatus(memberId: string, status: MemberAccess['status'], suspension: MemberAccess['suspension'] = status === 'suspended' ? 'staff' : null): void {
    this.updateMember(memberId, { status, suspension });
  }

  removeCredential(key: string): void {
    this.credentials.delete(key);
    this.change({ keyList: [key] });
  }

  removeMember(memberId: string): void {
    this.members.delete(memberId);
    const keys = [...this.credentials].filter(([, id]) => id === memberId).map(([k]) => k);
    for (const k of keys) this.credentials.delete(k);
    this.change({ memberIds: [memberId], keyList: keys });
  }

  setProfiles(profiles: AccessProfile[]): void {
    this.profiles = profiles;
    this.change({ profiles: true, schedules: true });
  }

  setSchedules(schedules: Record<string, Schedule>): void {
    this.schedules = schedules;
    this.change({ schedules: true });
  }

  setDoor(doorId: string, over: Partial<DoorPolicy>): void {
    this.doorList = this.doorList.map((d) => (d.id === doorId ? { ...d, ...over } : d));
    this.change({ doors: true });
  }

  setDoors(over: Partial<DoorPolicy>): void {
    this.doorList = this.doorList.map((d) => ({ ...d, ...over }));
    this.change({ doors: true });
  }

  private profileIndex(): Map<string, number> {
    return new Map(this.profiles.map((p, i) => [p.id, i]));
  }

  private access(m: FakeMember, index: Map<string, number>): MemberAccess {
    const { profileId, ...rest } = m;
    return { ...rest, profile: index.get(profileId) ?? 0 };
  }

  get snapshot(): EntitlementSnapshot {
    const index = this.profileIndex();
    const members = [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => this.access(m, index));
    const position = new Map(members.map((m, i) => [m.id, i]));
    const credentials = [...this.credentials]
      .filter(([, id]) => position.has(id))
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([key, id]): [string, number] => [key, position.get(id) as number]);
    const state: Omit<EntitlementSnapshot, 'hash'> = {
      siteId: this.siteId,
      version: this.version,
      serverTime: this.now(),
      site: this.site,
      schedules: this.schedules,
      doors: this.doorList,
      profiles: this.profiles,
      members,
      credentials,
    };
    return { ...state, hash: EntitlementHash.of(state).value };
  }

  get hash(): string {
    return this.snapshot.hash;
  }

  update(since: number): EntitlementUpdate {
    if (since === this.version) return { kind: 'current', version: this.version, hash: this.hash, serverTime: this.now() };
    const oldest = this.log[0]?.version;
    if (!this.deltas || since > this.version || oldest === undefined || oldest > since + 1) return { kind: 'snapshot', snapshot: this.snapshot };
    const changes = this.log.filter((c) => c.version > since);
    const any = (f: keyof Omit<Change, 'version' | 'members' | 'keys'>) => changes.some((c) => c[f]);
    const memberIds = new Set(changes.flatMap((c) => [...c.members]));
    const keys = new Set(changes.flatMap((c) => [...c.keys]));
    const index = this.profileIndex();
    const snapshot = this.snapshot;
    const hash = snapshot.hash;
    const lose = this.loseNextDeltaMembers;
    this.loseNextDeltaMembers = false;
    const delta: EntitlementDelta = {
      siteId: this.siteId,
      fromVersion: since,
      version: this.version,
      serverTime: this.now(),
      hash,
      ...(any('site') ? { site: this.site } : {}),
      ...(any('schedules') ? { schedules: this.schedules } : {}),
      ...(any('doors') ? { doors: this.doorList } : {}),
      ...(any('profiles') ? { profiles: this.profiles } : {}),
      members: lose
        ? { upsert: [], remove: [] }
        : {
            upsert: [...memberIds].filter((id) => this.members.has(id)).map((id) => this.access(this.members.get(id) as FakeMember, index)),
            remove: [...memberIds].filter((id) => !this.members.has(id)),
          },
      credentials: {
        upsert: [...keys].filter((k) => this.credentials.has(k)).map((k): [string, string] => [k, this.credentials.get(k) as string]),
        remove: [...keys].filter((k) => !this.credentials.has(k)),
      },
    };
    return { kind: 'delta', delta };
  }

  /** The delta from `since` to now (for inline notices). */
  deltaSince(since: number): EntitlementDelta {
    const u = this.update(since);
    if (u.kind !== 'delta') throw new Error(`no delta from ${since} (got ${u.kind})`);
    return u.delta;
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  // Commands

  /** A command for a device, valid for a minute from the server's now. */
  command(deviceId: string, action: CommandAction, over: Partial<DoorCommand> = {}): DoorCommand {
    const now = this.now();
    return { id: randomUUID(), deviceId, issuedAt: now, expiresAt: now + 60_000, nonce: randomBytes(18).toString('base64url'), action, ...over };
  }

  /**
   * The MQTT notice the Worker publishes for the change from `since`: the delta signed with the
   * Worker's key (or another key pair), for this organisation and site unless told otherwise.
   */
  async signedNotice(since: number, options: { keys?: webcrypto.CryptoKeyPair; body?: Partial<SignedDeltaBody>; text?: (t: string) => string } = {}) {
    const keys = options.keys ?? this.keys;
    if (!keys) throw new Error('start the fake Worker first');
    const delta = this.deltaSince(since);
    const body: SignedDeltaBody = { organisationId: this.organisationId, siteId: this.siteId, fromVersion: delta.fromVersion, version: delta.version, hash: delta.hash, delta, ...options.body };
    const signedText = JSON.stringify(body);
    const signature = b64url(await webcrypto.subtle.sign({ name: 'Ed25519' }, keys.privateKey, new TextEncoder().encode(signedText)));
    return { siteId: this.siteId, version: delta.version, signedDelta: { text: options.text ? options.text(signedText) : signedText, signature } };
  }

  /** Signs the command's JSON text with the Worker's key (or another key pair, to test refusal). */
  async sign(command: DoorCommand, keys: webcrypto.CryptoKeyPair | undefined = this.keys): Promise<SignedCommand> {
    if (!keys) throw new Error('start the fake Worker first');
    const text = JSON.stringify(command);
    const signature = await webcrypto.subtle.sign({ name: 'Ed25519' }, keys.privateKey, new TextEncoder().encode(text));
    return { command: text, signature: b64url(signature) };
  }

  async start(port = this.port): Promise<string> {
    if (!this.keys) {
      this.keys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      this.commandPublicKey = b64url(await webcrypto.subtle.exportKey('raw', this.keys.publicKey));
    }
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    this.requests.push({ method: req.method ?? '', path, query: url.search, headers: req.headers, at: Date.now() });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const json = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(JSON.stringify(body));
    };
    const problem = (status: number, title: string, detail: string) =>
      json(status, { type: 'about:blank', title, status, detail }, 'application/problem+json');

    if (req.method === 'POST' && path === '/v1/enroll') {
      const body = JSON.parse(text) as { code?: string };
      const state = this.codes.get(body.code ?? '');
      if (!state) return problem(400, 'Unknown enrollment code', 'No enrollment code matches; ask the owner for a new one.');
      if (state === 'used') return problem(409, 'Enrollment code already used', 'This code was already used to enroll a door.');
      if (state === 'expired') return problem(410, 'Enrollment code expired', 'This code expired; ask the owner for a new one.');
      this.codes.set(body.code as string, 'used');
      const deviceId = newId('dev');
      const deviceToken = `gd_${randomBytes(24).toString('base64url')}`;
      this.tokens.set(deviceToken, deviceId);
      return json(201, {
        deviceId,
        deviceToken,
        organisationId: this.organisationId,
        siteId: this.siteId,
        topicPrefix: this.topicPrefix,
        mqtt: this.mqtt,
        commandPublicKey: this.commandsEnabled ? this.commandPublicKey : null,
      });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const deviceId = token ? this.tokens.get(token) : undefined;
    if (!deviceId) return problem(401, 'Unauthorized', 'Unknown or revoked device token.');
    if (this.revoked.has(deviceId)) {
      const detail = 'This door device was revoked: it must not grant access. Provision it again to use it.';
      return json(401, { type: 'https://gymgate.dev/problems/device-revoked', title: 'Device revoked', status: 401, detail }, 'application/problem+json');
    }
    if (req.method === 'GET' && path === '/v1/device/whoami') {
      return json(200, { deviceId, siteId: this.siteId, serverTime: this.now(), entitlementVersion: this.version });
    }
    if (req.method === 'GET' && path === '/v1/device/snapshot') return json(200, this.snapshot);
    if (req.method === 'GET' && path === '/v1/device/entitlements') {
      const since = url.searchParams.get('since');
      return json(200, since === null ? { kind: 'snapshot', snapshot: this.snapshot } : this.update(Number(since)));
    }
    if (req.method === 'POST' && path === '/v1/device/heartbeat') {
      this.heartbeats.push({ ...(JSON.parse(text) as Heartbeat), deviceId });
      return json(200, { serverTime: this.now(), entitlementVersion: this.version, entitlementHash: this.heartbeatHash ?? this.hash });
    }
    const ack = /^\/v1\/device\/commands\/([^/]+)\/ack$/.exec(path);
    if (req.method === 'POST' && ack) {
      const body = JSON.parse(text) as CommandAck;
      this.acks.push({ ...body, id: decodeURIComponent(ack[1] as string), deviceId });
      return json(200, { id: ack[1], status: body.status });
    }
    if (req.method === 'POST' && path === '/v1/device/alarms') {
      if (this.failAlarms > 0) {
        this.failAlarms--;
        return problem(503, 'Unavailable', 'Try again later.');
      }
      const parsed = DoorAlarmBatch.safeParse(JSON.parse(text));
      if (!parsed.success) return problem(400, 'Invalid request', parsed.error.issues.map((i) => i.path.join('.')).join(', '));
      const fresh = parsed.data.events.filter((e) => !this.alarms.some((a) => a.id === e.id));
      this.alarms.push(...fresh);
      return json(200, { accepted: fresh.length, duplicates: parsed.data.events.length - fresh.length });
    }
    if (req.method === 'POST' && path === '/v1/device/checkins') {
      if (this.failCheckins > 0) {
        this.failCheckins--;
        return problem(503, 'Unavailable', 'Try again later.');
      }
      const parsed = CheckinBatch.safeParse(JSON.parse(text));
      if (!parsed.success) return problem(400, 'Invalid request', parsed.error.issues.map((i) => i.path.join('.')).join(', '));
      let accepted = 0;
      let duplicates = 0;
      for (const event of parsed.data.events) {
        if (this.checkins.some((e) => e.id === event.id)) duplicates++;
        else {
          this.checkins.push(event);
          accepted++;
        }
      }
      this.duplicates += duplicates;
      return json(200, { accepted, duplicates });
    }
    return problem(404, 'Not found', path);
  }
}

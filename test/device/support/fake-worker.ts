// A loopback test double of the gymgate Worker's device endpoints (enroll, snapshot, check-ins),
// answering with the shapes in core/contracts/wire.ts. The real Worker is covered by the e2e suite.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CheckinBatch, type CheckinUpload, type EntitlementSnapshot } from '../../../core/contracts/wire.ts';

export const newId = (prefix: string) =>
  `${prefix}_${[...randomBytes(16)].map((b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('')}`;

type CodeState = 'fresh' | 'used' | 'expired';

export type RecordedRequest = { method: string; path: string; headers: IncomingMessage['headers'] };

export class FakeWorker {
  readonly organisationId = newId('org');
  readonly siteId = newId('site');
  readonly topicPrefix = 'gymgate-test';
  readonly codes = new Map<string, CodeState>();
  readonly tokens = new Map<string, string>();
  readonly checkins: CheckinUpload[] = [];
  readonly requests: RecordedRequest[] = [];
  duplicates = 0;
  /** The broker handed out at enrollment, or null. */
  mqtt: { url: string } | null = null;
  /** Answer this many check-in uploads with 503 before accepting. */
  failCheckins = 0;
  snapshot: EntitlementSnapshot;
  private server: Server | undefined;
  port = 0;

  constructor(doors: string[] = ['Front door', 'Studio']) {
    this.snapshot = {
      siteId: this.siteId,
      version: 1,
      serverTime: Date.now(),
      doors: doors.map((name) => ({ id: newId('door'), name })),
      members: [],
      credentials: [],
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get doors() {
    return this.snapshot.doors;
  }

  issueCode(state: CodeState = 'fresh'): string {
    const code = randomBytes(5).toString('hex').toUpperCase();
    this.codes.set(code, state);
    return code;
  }

  /** Adds a member holding the credential key; bumps the version. */
  addMember(key: string, status: 'active' | 'suspended' = 'active'): string {
    const id = newId('mem');
    const members = [...this.snapshot.members, { id, status }];
    this.snapshot = {
      ...this.snapshot,
      version: this.snapshot.version + 1,
      members,
      credentials: [...this.snapshot.credentials, [key, members.length - 1]],
    };
    return id;
  }

  setStatus(memberId: string, status: 'active' | 'suspended'): void {
    this.snapshot = {
      ...this.snapshot,
      version: this.snapshot.version + 1,
      members: this.snapshot.members.map((m) => (m.id === memberId ? { ...m, status } : m)),
    };
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  async start(port = this.port): Promise<string> {
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
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
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
      });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !this.tokens.has(token)) return problem(401, 'Unauthorized', 'Unknown or revoked device token.');
    if (req.method === 'GET' && path === '/v1/device/snapshot') {
      return json(200, { ...this.snapshot, serverTime: Date.now() });
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

// `npm run broker:mosquitto -- --api https://gym.example --dir /etc/mosquitto/gymgate [--pid N | --pid-file F]`
// Fetches mosquitto's password_file and acl_file from the Worker (BROKER_AUTH_SECRET in the
// environment), writes them atomically and, when they changed, sends mosquitto SIGHUP so it
// reloads: new doors get in, and revoked doors are disconnected and refused. Run it from a timer
// (every minute) beside the broker. mosquitto.conf then needs:
//   allow_anonymous false
//   password_file <dir>/passwords
//   acl_file <dir>/acl
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

export type MosquittoSync = { changed: boolean; identities: number; passwordFile: string; aclFile: string };

async function fetchText(api: string, route: string, secret: string): Promise<string> {
  const res = await fetch(new URL(route, api), { headers: { authorization: `Bearer ${secret}` } });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${route} → ${res.status}: ${body.slice(0, 300)}`);
  return body;
}

async function replace(file: string, text: string): Promise<boolean> {
  const old = await readFile(file, 'utf8').catch(() => null);
  if (old === text) return false;
  // mosquitto drops privileges to its own user: the files must stay readable to it.
  await writeFile(`${file}.tmp`, text, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
  return true;
}

/** Writes `passwords` and `acl` into `dir`; signals `pid` (if given) when either changed. */
export async function syncMosquittoFiles(options: { api: string; secret: string; dir: string; pid?: number }): Promise<MosquittoSync> {
  const [passwords, acl] = await Promise.all([
    fetchText(options.api, '/v1/broker/mosquitto/password-file', options.secret),
    fetchText(options.api, '/v1/broker/mosquitto/acl-file', options.secret),
  ]);
  const passwordFile = path.join(options.dir, 'passwords');
  const aclFile = path.join(options.dir, 'acl');
  const aclChanged = await replace(aclFile, acl);
  const passwordsChanged = await replacePasswords(passwordFile, passwords);
  const changed = aclChanged || passwordsChanged;
  if (changed && options.pid) process.kill(options.pid, 'SIGHUP');
  return { changed, identities: passwords.split('\n').filter(Boolean).length, passwordFile, aclFile };
}

/** The publisher's hash gets a fresh salt on each render: keep the old line when the user set is the same. */
async function replacePasswords(file: string, text: string): Promise<boolean> {
  const old = await readFile(file, 'utf8').catch(() => null);
  const users = (t: string) => t.split('\n').filter(Boolean).map((line) => line.slice(0, line.indexOf(':'))).join('\n');
  const doors = (t: string) => t.split('\n').filter((line) => line.startsWith('dev_')).join('\n');
  if (old !== null && users(old) === users(text) && doors(old) === doors(text)) return false;
  return replace(file, text);
}

async function main() {
  const { values } = parseArgs({ options: { api: { type: 'string' }, dir: { type: 'string' }, pid: { type: 'string' }, 'pid-file': { type: 'string' } } });
  const secret = process.env.BROKER_AUTH_SECRET;
  if (!values.api || !values.dir || !secret) {
    console.error('usage: BROKER_AUTH_SECRET=… npm run broker:mosquitto -- --api <Worker URL> --dir <folder> [--pid <mosquitto pid> | --pid-file <file>]');
    process.exit(2);
  }
  const pidText = values.pid ?? (values['pid-file'] ? (await readFile(values['pid-file'], 'utf8')).trim() : undefined);
  const result = await syncMosquittoFiles({ api: values.api, secret, dir: values.dir, ...(pidText ? { pid: Number(pidText) } : {}) });
  console.log(JSON.stringify({ msg: result.changed ? 'mosquitto files updated' : 'mosquitto files unchanged', ...result }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  main().catch((error: unknown) => {
    console.error(`broker:mosquitto failed: ${(error as Error).message}`);
    process.exit(1);
  });
}

// Process plumbing for running the whole gym on one machine: `npm start` and the end-to-end
// tests both use it, so the tests exercise exactly what a developer runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = (name: string) => path.join(ROOT, 'node_modules/.bin', name);

export type Proc = {
  child: ChildProcess;
  /** Everything the process printed so far (capped), for diagnostics. */
  output: () => string;
  /** Resolves with the first line matching `pattern`, or rejects when the process exits or time runs out. */
  waitForLine: (pattern: RegExp, timeoutMs: number) => Promise<string>;
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<void>;
  exited: Promise<number | null>;
};

export function startProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: (line: string) => void } = {},
): Proc {
  // Own process group, so stopping wrangler also stops the workerd it started.
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  const listeners = new Set<(line: string) => void>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    const s = chunk.toString();
    text = (text + s).slice(-200_000);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      options.echo?.(line);
      for (const l of listeners) l(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };

  return {
    child,
    exited,
    output: () => text,
    waitForLine: (pattern, timeoutMs) =>
      new Promise<string>((resolve, reject) => {
        const found = text.split('\n').find((l) => pattern.test(l));
        if (found) return resolve(found);
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from ${command}\n${text.slice(-4000)}`)), timeoutMs);
        const onLine = (line: string) => pattern.test(line) && finish(null, line);
        const onExit = () => finish(new Error(`${command} exited before printing ${pattern}\n${text.slice(-4000)}`));
        const finish = (err: Error | null, line?: string) => {
          clearTimeout(timer);
          listeners.delete(onLine);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(line as string);
        };
        listeners.add(onLine);
        child.once('exit', onExit);
      }),
    stop: async (signal = 'SIGTERM', timeoutMs = 10_000) => {
      if (done) return;
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` until it returns true; bounded by `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const proc = startProcess(command, args, { env });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${path.basename(command)} ${args.join(' ')} failed (exit ${code}):\n${proc.output().slice(-4000)}`);
  return proc.output();
}

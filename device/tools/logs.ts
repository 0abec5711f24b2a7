// `gymgate-agent logs`: the agent's JSON log lines from the journal, as readable lines:
// "2026-11-25T15:47:01.123Z WARN  door forced open  door=door_… event=door_forced".
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export function formatLogLine(text: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return text;
  }
  if (typeof record !== 'object' || record === null || typeof record.msg !== 'string') return text;
  const { time, level, msg, ...fields } = record;
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(time ?? '')} ${String(level ?? '').toUpperCase().padEnd(5)} ${msg}${rest ? `  ${rest}` : ''}`;
}

/** Runs journalctl for the unit and prints each line formatted; resolves with its exit code. */
export function showLogs(options: {
  follow: boolean;
  lines: number;
  unit?: string;
  journalctl?: string;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}): Promise<number> {
  const args = ['-u', options.unit ?? 'gymgate-agent', '-o', 'cat', '--no-pager', '-n', String(options.lines), ...(options.follow ? ['-f'] : [])];
  return new Promise((resolve) => {
    const child = spawn(options.journalctl ?? 'journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    createInterface({ input: child.stdout }).on('line', (line) => options.stdout(formatLogLine(line)));
    createInterface({ input: child.stderr }).on('line', (line) => options.stderr(line));
    child.on('error', (error) => {
      options.stderr(`cannot run journalctl: ${error.message} (the agent logs JSON lines to stdout; under systemd they are in the journal)`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

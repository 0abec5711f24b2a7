// systemd readiness and watchdog (unit Type=notify, WatchdogSec=). Node has no unix datagram
// sockets, so messages go through `systemd-notify` run as a child process; the unit sets
// NotifyAccess=all so systemd accepts them from the child, and systemd-notify (v246+) waits
// until systemd has read each message. The keepalive is a timer on the agent's event loop:
// if the loop stalls, keepalives stop and systemd restarts the agent.
import { execFile } from 'node:child_process';
import type { Logger } from '../log/logger.ts';

export type NotifierOptions = {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** The systemd-notify executable. */
  command?: string;
  pid?: number;
};

export class SystemdNotifier {
  readonly enabled: boolean;
  /** Keepalive interval, ms (half of WatchdogSec), or undefined without a watchdog. */
  readonly keepaliveMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly command: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly pid: number;
  private failures = 0;

  constructor(private readonly options: NotifierOptions) {
    this.env = options.env ?? process.env;
    this.command = options.command ?? 'systemd-notify';
    this.pid = options.pid ?? process.pid;
    this.enabled = Boolean(this.env.NOTIFY_SOCKET);
    const usec = Number(this.env.WATCHDOG_USEC);
    const forUs = this.env.WATCHDOG_PID === undefined || Number(this.env.WATCHDOG_PID) === this.pid;
    this.keepaliveMs = this.enabled && forUs && Number.isFinite(usec) && usec > 0 ? Math.max(50, Math.floor(usec / 2000)) : undefined;
  }

  private send(args: string[]): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    return new Promise((resolve) => {
      // --pid names the agent as the service's main process (the sender is this child).
      execFile(this.command, [`--pid=${this.pid}`, ...args], { env: this.env, timeout: 10_000 }, (error) => {
        if (error) {
          // Logged once per streak so a missing tool cannot flood the log.
          if (this.failures++ === 0) this.options.log.warn('systemd-notify failed', { args, error: error.message });
          resolve(false);
        } else {
          if (this.failures > 0) this.options.log.info('systemd-notify works again', { after: this.failures });
          this.failures = 0;
          resolve(true);
        }
      });
    });
  }

  /** READY=1 and the watchdog keepalive. */
  async ready(status = 'ready'): Promise<void> {
    if (!this.enabled) return;
    await this.send(['--ready', `--status=${status}`]);
    if (this.keepaliveMs !== undefined && !this.timer) {
      this.timer = setInterval(() => void this.send(['WATCHDOG=1']), this.keepaliveMs);
      this.timer.unref();
      this.options.log.info('systemd watchdog keepalive started', { everyMs: this.keepaliveMs });
    }
  }

  status(text: string): Promise<boolean> {
    return this.send([`--status=${text}`]);
  }

  async stopping(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.send(['STOPPING=1']);
  }
}

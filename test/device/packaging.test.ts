// The systemd unit and the install script, as files: what they must keep saying.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

describe('packaging for the controller', () => {
  it('the unit is Type=notify with a watchdog, restarts for ever after time sync, with one malloc arena', () => {
    const unit = readFileSync(join(root, 'device/systemd/gymgate-agent.service'), 'utf8');
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      'WatchdogSec=30',
      'Restart=always',
      'StartLimitIntervalSec=0',
      'After=network-online.target time-sync.target',
      'Environment=MALLOC_ARENA_MAX=1',
      'KillMode=mixed',
      'SupplementaryGroups=gpio input',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
  });

  it('install.sh is valid sh and creates the user, groups, data directory and unit', () => {
    const script = join(root, 'device/install.sh');
    execFileSync('sh', ['-n', script]);
    const text = readFileSync(script, 'utf8');
    expect(text).toMatch(/usermod -a -G gpio,input "\$USER_NAME"/);
    expect(text).toMatch(/chmod 0700 "\$DATA"/);
    expect(text).toMatch(/systemctl enable gymgate-agent\.service/);
    expect(text).toMatch(/apt-get install -y --no-install-recommends gpiod python3-minimal/);
  });
});

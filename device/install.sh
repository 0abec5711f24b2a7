#!/bin/sh
# Installs the gymgate door agent on Raspberry Pi OS (bookworm) or Debian 12/13 on a Pi.
# Run as root from a checkout of the repository:  sudo sh device/install.sh
#   - Node.js 20+ must be installed (e.g. from NodeSource); the script checks.
#   - Installs the code to /opt/gymgate (production dependencies only), Debian's gpiod tools and
#     python3-minimal (the helper that grabs keyboard-wedge readers with EVIOCGRAB).
#   - Creates the system user gymgate in the groups gpio and input, and /var/lib/gymgate-agent (0700).
#   - Installs and enables the systemd unit; it starts once device.json exists (after provision).
# Safe to run again to upgrade: the data directory and its config.json are kept.
set -eu

PREFIX=${PREFIX:-/opt/gymgate}
DATA=${DATA:-/var/lib/gymgate-agent}
USER_NAME=${USER_NAME:-gymgate}
UNIT=/etc/systemd/system/gymgate-agent.service
SRC=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '%s\n' "gymgate install: $*"; }
die() { printf '%s\n' "gymgate install: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo sh device/install.sh)"
command -v node >/dev/null 2>&1 || die "node is not installed; install Node.js 20 or later first"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node.js $major is too old; 20 or later is needed"

if command -v apt-get >/dev/null 2>&1; then
  say "installing gpiod (libgpiod tools), python3-minimal (keyboard reader grab) and rsync"
  apt-get install -y --no-install-recommends gpiod python3-minimal rsync >/dev/null
fi

# Groups: gpio (GPIO character device and sysfs on Raspberry Pi OS), input (keyboard-wedge readers).
for group in gpio input; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id "$USER_NAME" >/dev/null 2>&1; then
  say "creating system user $USER_NAME"
  useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin --user-group "$USER_NAME"
fi
usermod -a -G gpio,input "$USER_NAME"

# On Debian without Raspberry Pi OS's udev rules, give the gpio group the GPIO character device.
if [ ! -e /etc/udev/rules.d/99-gpio.rules ] && ! grep -rqs 'gpiochip' /lib/udev/rules.d /etc/udev/rules.d; then
  say "adding a udev rule for /dev/gpiochip* (group gpio)"
  printf '%s\n' 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' > /etc/udev/rules.d/99-gymgate-gpio.rules
  udevadm control --reload-rules && udevadm trigger --subsystem-match=gpio || true
fi

say "installing the code to $PREFIX"
mkdir -p "$PREFIX"
rsync -a --delete --exclude .git --exclude node_modules --exclude .gymgate --exclude test "$SRC"/ "$PREFIX"/
(cd "$PREFIX" && npm ci --omit=dev --no-audit --no-fund)
chown -R root:root "$PREFIX"

mkdir -p "$DATA"
chown "$USER_NAME:$USER_NAME" "$DATA"
chmod 0700 "$DATA"

say "installing $UNIT"
install -m 0644 "$PREFIX/device/systemd/gymgate-agent.service" "$UNIT"
systemctl daemon-reload
systemctl enable gymgate-agent.service >/dev/null

if [ -f "$DATA/device.json" ]; then
  systemctl restart gymgate-agent.service
  say "agent restarted; follow it with: gymgate-agent logs -f"
else
  say "next: enroll this door, then start the agent:"
  say "  sudo -u $USER_NAME node $PREFIX/device/bin/gymgate-agent.mjs provision --api https://<worker> --code <CODE> --data $DATA"
  say "  sudo systemctl start gymgate-agent"
fi
say "check the installation with: sudo -u $USER_NAME node $PREFIX/device/bin/gymgate-agent.mjs doctor --data $DATA"

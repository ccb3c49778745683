#!/bin/sh
# Installs Debian's `chromium`, the real browser the dashboard test drives (through playwright-core,
# test/server/dashboard.test.ts). As root it installs with apt-get; otherwise it says how and exits 1.
# Prints the path of the browser on its last line.
set -eu
if command -v chromium >/dev/null 2>&1; then
  echo "chromium is installed: $(chromium --version 2>/dev/null || echo 'version unknown')" >&2
  command -v chromium
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is not installed; as root run: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "apt-get install chromium did not provide the chromium command" >&2; exit 1; }
echo "chromium installed: $(chromium --version 2>/dev/null || echo 'version unknown')" >&2
command -v chromium

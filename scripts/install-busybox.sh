#!/bin/sh
# Prints the path of a static busybox (Debian package busybox-static), the only program of the
# root the launcher test (test/k8s/launcher.test.ts) runs the launcher bundle in. As root it
# installs the package with apt-get; otherwise, or when that fails, it says why and exits 1.
set -eu
BUSYBOX=/bin/busybox
# A root with nothing else has no libc: a dynamically linked busybox (package `busybox`) cannot run there.
is_static() { [ -x "$BUSYBOX" ] && LC_ALL=C ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic executable'; }
if is_static; then echo "$BUSYBOX"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "no static busybox at $BUSYBOX; as root run: apt-get update && apt-get install -y busybox-static" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends busybox-static >/dev/null ||
  { echo "apt-get install busybox-static failed" >&2; exit 1; }
is_static || { echo "apt-get install busybox-static did not provide a static $BUSYBOX" >&2; exit 1; }
echo "$BUSYBOX"

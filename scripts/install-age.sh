#!/bin/sh
# Installs `age` (Debian package `age`: age and age-keygen), the peer of `npm run bench`'s
# protected-file figures. As root it installs with apt-get; otherwise it says how and exits 1.
set -eu
if command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1; then
  echo "age is installed: $(command -v age) ($(age --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "age is not installed; as root run: apt-get update && apt-get install -y age" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq age >/dev/null
command -v age >/dev/null 2>&1 || { echo "apt-get install age did not provide the age command" >&2; exit 1; }
echo "age installed: $(command -v age) ($(age --version 2>/dev/null || echo 'version unknown'))"

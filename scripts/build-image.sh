#!/bin/sh
# Builds the cloister container image without a container engine: one layer holding the launcher
# bundle (cloister, its Node and the libraries Node needs) at /opt/cloister, written as a
# docker-archive tarball that `docker load`, `podman load` and `ctr images import` read.
#   scripts/build-image.sh OUT.tar [REF]     (REF default: ghcr.io/cloister-dev/cloister:<version>)
# Run `npm run build` first. The image has no shell; its entrypoint is cloister itself.
set -eu
OUT=$(realpath -m "${1:?usage: build-image.sh OUT.tar [REF]}")
HERE=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(node -p "require('$HERE/package.json').version")
REF=${2:-ghcr.io/cloister-dev/cloister:$VERSION}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/root/opt" "$T/root/tmp" "$T/root/etc"
chmod 1777 "$T/root/tmp"
node "$HERE/bin/cloister.js" launcher install --all "$T/root/opt/cloister" >/dev/null
echo 'root:x:0:0:root:/:/sbin/nologin' > "$T/root/etc/passwd"
echo 'nonroot:x:65532:65532:nonroot:/:/sbin/nologin' >> "$T/root/etc/passwd"
sh "$HERE/scripts/image-tar.sh" "$OUT" "$REF" "$T/root" \
  '["/opt/cloister/lib/ld.so","--library-path","/opt/cloister/lib","/opt/cloister/node","/opt/cloister/app/bin/cloister.js"]'
echo "$OUT: $REF"

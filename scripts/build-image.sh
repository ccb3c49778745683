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
tar -C "$T/root" --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -cf "$T/layer.tar" .
L=$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
mkdir "$T/$L" && mv "$T/layer.tar" "$T/$L/layer.tar"
E='["/opt/cloister/lib/ld.so","--library-path","/opt/cloister/lib","/opt/cloister/node","/opt/cloister/app/bin/cloister.js"]'
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$(node -p 'process.arch === "x64" ? "amd64" : process.arch')" "$E" "$L" > "$T/config.json"
C=$(sha256sum "$T/config.json" | cut -d' ' -f1)
mv "$T/config.json" "$T/$C.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$C" "$REF" "$L" > "$T/manifest.json"
tar -C "$T" -cf "$OUT" manifest.json "$C.json" "$L"
echo "$OUT: $REF"

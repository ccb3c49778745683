# Sourced by .ci/run (or by you: `. scripts/k8s-env.sh`): builds once and starts the real
# Kubernetes 1.20 of scripts/k8s-test-env.sh with a kubelet (NODE=1), exports KUBECONFIG and
# CLOISTER_K8S_ENV for test/k8s, and stops it when the shell exits. The build (6-9 minutes cold,
# up to 27 under load) is kept in $CLOISTER_K8S_DIR (default ~/.cache/cloister-k8s), outside the
# clone. Without root the Kubernetes tests are skipped and say why.
K8S_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLOISTER_K8S_DIR=${CLOISTER_K8S_DIR:-$HOME/.cache/cloister-k8s}
if [ "$(id -u)" -ne 0 ]; then
  echo "k8s-env: a kubelet needs root: Kubernetes tests will be skipped" >&2
else
  NODE=1 bash "$K8S_SCRIPTS/k8s-test-env.sh" build "$CLOISTER_K8S_DIR" >"${TMPDIR:-/tmp}/cloister-k8s-build.log" 2>&1 ||
    { tail -40 "${TMPDIR:-/tmp}/cloister-k8s-build.log" >&2; false; }
  NODE=1 bash "$K8S_SCRIPTS/k8s-test-env.sh" up "$CLOISTER_K8S_DIR"
  trap 'bash "$K8S_SCRIPTS/k8s-test-env.sh" down "$CLOISTER_K8S_DIR" >/dev/null 2>&1 || true' EXIT
  export KUBECONFIG=$CLOISTER_K8S_DIR/run/kubeconfig CLOISTER_K8S_ENV=$CLOISTER_K8S_DIR
fi

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The real cluster the Kubernetes tests run against: `$KUBECONFIG` (any cluster: chart objects),
 * and, when `$CLOISTER_K8S_ENV` names the folder of `scripts/k8s-test-env.sh` started with
 * NODE=1, its kubelet and containerd on this machine (images, device plugin, pods).
 * `scripts/k8s-env.sh` (sourced by .ci/run) builds and starts it and exports both.
 */

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const KUBECONFIG = process.env['KUBECONFIG'];
export const NODE_ENV = process.env['CLOISTER_K8S_ENV'];
export const CONTAINERD = '/run/k8s-test-containerd/containerd.sock';
export const SKIP_CLUSTER = KUBECONFIG
  ? false
  : 'no cluster: set KUBECONFIG (`. scripts/k8s-env.sh` builds and starts one with scripts/k8s-test-env.sh)';
export const SKIP_NODE =
  SKIP_CLUSTER ||
  (NODE_ENV && existsSync(join(NODE_ENV, 'run/kubelet.pid'))
    ? false
    : 'no local kubelet: set CLOISTER_K8S_ENV to a scripts/k8s-test-env.sh folder started with NODE=1');
/** The busybox binary of the node's `docker.io/library/busybox:test` image, kept beside it by the build. */
export const IMAGE_BUSYBOX = join(NODE_ENV ?? '', 'images/busybox');

/**
 * `describe(name, body)`, or when the suite cannot run one skipped test that says why: node:test
 * counts a skipped test in its `# skipped` total, a skipped suite in none.
 */
export function suiteUnless(skip: string | false, name: string, body: () => void): void {
  if (skip) test(name, { skip });
  else describe(name, body);
}

export async function kube() {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return {
    k8s,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    admission: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
  };
}
export type Kube = Awaited<ReturnType<typeof kube>>;

/** helm and kubectl from the project's own installer. */
export function tools(): { helm: string; kubectl: string } {
  const dir = execFileSync('sh', [join(REPO, 'scripts/install-k8s-tools.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop() as string;
  return { helm: join(dir, 'helm'), kubectl: join(dir, 'kubectl') };
}

export function helm(args: string[]): string {
  return execFileSync(tools().helm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

/** Polls until `f` returns a value; fails with the last state after the deadline (a hang guard, not a timing assertion). */
export async function waitFor<T>(what: string, f: () => Promise<T | undefined>, seconds = 240): Promise<T> {
  let last: unknown;
  for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Builds the cloister image and loads it into the node's containerd. */
export function loadImage(ref: string, tar: string): void {
  execFileSync('sh', [join(REPO, 'scripts/build-image.sh'), tar, ref], { stdio: 'ignore' });
  execFileSync('ctr', ['--address', CONTAINERD, '-n', 'k8s.io', 'images', 'import', tar], { stdio: 'ignore' });
}

/** Restarts the test node's kubelet with its own command line, as a node reboot or upgrade would. */
export async function restartKubelet(): Promise<void> {
  const pidFile = join(NODE_ENV as string, 'run/kubelet.pid');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  process.kill(pid, 'SIGTERM');
  await waitFor(
    'the kubelet to exit',
    async () =>
      existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ') ? undefined : true,
    60,
  );
  const out = openSync(join(NODE_ENV as string, 'run/kubelet.log'), 'a');
  const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  writeFileSync(pidFile, String(child.pid));
}

export const podLogs = async (kc: Kube, namespace: string, name: string, container?: string): Promise<string> =>
  kc.core.readNamespacedPodLog({ name, namespace, ...(container ? { container } : {}) });

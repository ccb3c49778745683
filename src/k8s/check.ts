import type * as K8s from '@kubernetes/client-node';
import { SGX_RESOURCES } from './webhook/mutate.js';

/**
 * `cloister k8s check`: whether the coordinator, the admission webhook and the SGX device plugin
 * of an installation are up, each as one finding in plain words. Reads the cluster through the
 * API server only (what an operator's kubeconfig allows), and proves the webhook works by a
 * server-side dry-run pod create (Kubernetes API: `dryRun=All` runs admission, stores nothing).
 */

export type Component = 'coordinator' | 'webhook' | 'device-plugin';
export interface Finding {
  component: Component;
  ok: boolean;
  /** One sentence for an operator. */
  detail: string;
}

export interface CheckOptions {
  namespace: string;
  /** The Helm release (label app.kubernetes.io/instance); all releases when undefined. */
  release?: string;
}

/** Every SGX resource name cloister's plugin or webhook knows, from the webhook's table. */
const SGX_RESOURCE_NAMES = [...new Set(Object.values(SGX_RESOURCES).flatMap((f) => Object.keys(f(1))))];

const selector = (o: CheckOptions, component: string) =>
  [
    `app.kubernetes.io/name=cloister`,
    `app.kubernetes.io/component=${component}`,
    ...(o.release ? [`app.kubernetes.io/instance=${o.release}`] : []),
  ].join(',');
const message = (e: unknown): string => {
  const body = (e as { body?: unknown }).body;
  const text = typeof body === 'string' ? body : body !== undefined ? JSON.stringify(body) : (e as Error).message;
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text;
  }
};

async function coordinator(kc: K8s.KubeConfig, k8s: typeof K8s, o: CheckOptions): Promise<Finding> {
  const component = 'coordinator';
  const sets = await kc
    .makeApiClient(k8s.AppsV1Api)
    .listNamespacedStatefulSet({ namespace: o.namespace, labelSelector: selector(o, component) });
  const set = sets.items[0];
  if (!set)
    return {
      component,
      ok: false,
      detail: `no coordinator StatefulSet in namespace "${o.namespace}" (is the chart installed there?)`,
    };
  const ready = set.status?.readyReplicas ?? 0;
  if (ready < 1)
    return { component, ok: false, detail: `${set.metadata?.name}: no pod is ready (0 of ${set.spec?.replicas ?? 1})` };
  const service = `${set.metadata?.name}-client`;
  try {
    const status = JSON.parse(
      await kc.makeApiClient(k8s.CoreV1Api).connectGetNamespacedServiceProxyWithPath({
        namespace: o.namespace,
        name: `https:${service}:client`,
        path: 'api/v1/status',
      }),
    ) as { manifestSet?: boolean; state?: string };
    return {
      component,
      ok: true,
      detail: `${set.metadata?.name}: ${ready} ready; its API answers: ${JSON.stringify(status)}`,
    };
  } catch (e) {
    return {
      component,
      ok: true,
      detail: `${set.metadata?.name}: ${ready} ready; its API was not reachable through the API server's service proxy (${message(e)})`,
    };
  }
}

async function webhook(kc: K8s.KubeConfig, k8s: typeof K8s, o: CheckOptions): Promise<Finding> {
  const component = 'webhook';
  const configs = await kc
    .makeApiClient(k8s.AdmissionregistrationV1Api)
    .listMutatingWebhookConfiguration({ labelSelector: selector(o, component) });
  const hook = configs.items[0]?.webhooks?.[0];
  if (!hook)
    return { component, ok: false, detail: 'no cloister MutatingWebhookConfiguration: pods will not be injected' };
  if (!hook.clientConfig.caBundle)
    return {
      component,
      ok: false,
      detail: `${hook.name}: caBundle is empty, so the API server cannot trust the webhook`,
    };
  // A dry-run create of a labelled pod goes through admission exactly as a real one.
  const probe = {
    metadata: {
      generateName: 'cloister-check-',
      labels: { 'cloister.dev/service': 'cloister-check', 'cloister.dev/resource-injection': 'disabled' },
      annotations: { 'cloister.dev/launcher': 'disabled' },
    },
    spec: { containers: [{ name: 'probe', image: 'cloister-check.invalid/probe' }] },
  };
  try {
    const pod = await kc
      .makeApiClient(k8s.CoreV1Api)
      .createNamespacedPod({ namespace: o.namespace, body: probe, dryRun: 'All' });
    const injected = pod.spec?.containers[0]?.env?.find((e) => e.name === 'CLOISTER_COORDINATOR')?.value;
    return injected
      ? {
          component,
          ok: true,
          detail: `${hook.name} (failurePolicy ${hook.failurePolicy ?? 'Fail'}) injects pods: a dry-run pod got coordinator ${injected}`,
        }
      : {
          component,
          ok: false,
          detail: `${hook.name}: a dry-run pod labelled cloister.dev/service came back without CLOISTER_COORDINATOR (namespace "${o.namespace}" not selected by the webhook, or failurePolicy Ignore hid an error)`,
        };
  } catch (e) {
    return { component, ok: false, detail: `${hook.name}: a dry-run pod was refused: ${message(e)}` };
  }
}

async function devicePlugin(kc: K8s.KubeConfig, k8s: typeof K8s, o: CheckOptions): Promise<Finding> {
  const component = 'device-plugin';
  const sets = await kc
    .makeApiClient(k8s.AppsV1Api)
    .listNamespacedDaemonSet({ namespace: o.namespace, labelSelector: selector(o, component) });
  const set = sets.items[0];
  const nodes = (await kc.makeApiClient(k8s.CoreV1Api).listNode()).items;
  const advertising = nodes.flatMap((n) =>
    SGX_RESOURCE_NAMES.filter(
      (r) => Number(n.status?.allocatable?.[r] ?? 0) > 0 || /^[1-9]/.test(n.status?.allocatable?.[r] ?? ''),
    ).map((r) => `${n.metadata?.name} ${r}=${n.status?.allocatable?.[r]}`),
  );
  const pods = set
    ? `${set.metadata?.name}: ${set.status?.numberReady ?? 0} of ${set.status?.desiredNumberScheduled ?? 0} pods ready`
    : `no cloister device-plugin DaemonSet in "${o.namespace}"`;
  if (advertising.length === 0)
    return {
      component,
      ok: false,
      detail: `${pods}; no node advertises an SGX resource (${SGX_RESOURCE_NAMES.join(', ')}): SGX pods cannot be scheduled`,
    };
  return {
    component,
    ok: true,
    detail: `${pods}; ${advertising.length} node resource(s) advertised: ${advertising.join('; ')}`,
  };
}

/**
 * All findings; a failure to reach the API server is itself a finding of each component.
 *
 * @example
 * ```ts
 * const findings = await checkInstallation(kubeConfig, { namespace: 'cloister' });
 * ```
 */
export async function checkInstallation(kc: K8s.KubeConfig, o: CheckOptions): Promise<Finding[]> {
  const k8s = await import('@kubernetes/client-node');
  const checks: [Component, typeof coordinator][] = [
    ['coordinator', coordinator],
    ['webhook', webhook],
    ['device-plugin', devicePlugin],
  ];
  return Promise.all(
    checks.map(([component, f]) =>
      f(kc, k8s, o).catch((e: unknown): Finding => ({
        component,
        ok: false,
        detail: `cannot ask the API server: ${message(e)}`,
      })),
    ),
  );
}

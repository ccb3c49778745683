import { CloisterError } from '../../lib/errors.js';
import { JsonPatcher, type PatchOp } from './patch.js';

/**
 * What the admission webhook adds to a pod that is a cloister service (Kubernetes API
 * `admission.k8s.io/v1`, mutating webhooks). Pure: a pod object and the settings in, a JSON patch
 * (RFC 6902) and warnings out. Values a pod already sets are never overwritten.
 */

/** Labels naming the manifest service a pod runs; the MarbleRun label is read for migration. */
export const SERVICE_LABELS = ['cloister.dev/service', 'marblerun/marbletype'] as const;
/** Labels or annotations whose value `disabled` turns off one part of the injection. */
export const OPT_OUT = {
  resources: ['cloister.dev/resource-injection', 'marblerun/resource-injection'],
  launcher: ['cloister.dev/launcher'],
} as const;
/** Label or annotation `true`/`false` choosing the quote helper for one pod. */
export const QUOTE_HELPER_KEY = 'cloister.dev/quote-helper';

/**
 * SGX resources per provider: Azure's add-on counts EPC in MiB; Intel's plugin counts EPC in bytes
 * (a quantity such as `10Mi`) plus the enclave and provisioning device resources.
 */
export const SGX_RESOURCES = {
  azure: (mib: number): Record<string, string> => ({ 'kubernetes.azure.com/sgx_epc_mem_in_MiB': String(mib) }),
  intel: (mib: number): Record<string, string> => ({
    'sgx.intel.com/epc': `${mib}Mi`,
    'sgx.intel.com/enclave': '1',
    'sgx.intel.com/provision': '1',
  }),
  none: (): Record<string, string> => ({}),
} as const;
export type ResourceProvider = keyof typeof SGX_RESOURCES;

/** Where the launcher lives inside every wrapped container, and the argv that starts it without a shell. */
export const LAUNCHER_DIR = '/cloister';
export const LAUNCHER_VOLUME = 'cloister-launcher';
/** The bundle's own dynamic loader runs its own Node, so the application image needs neither libc nor Node. */
export const launcherArgv = (dir = LAUNCHER_DIR): string[] => [
  `${dir}/lib/ld.so`,
  '--library-path',
  `${dir}/lib`,
  `${dir}/node`,
  `${dir}/app/bin/cloister.js`,
];

export const AESM_DIR = '/var/run/aesmd';

/**
 * Confidential Containers runtime classes (Kata Containers in a TDX or SEV-SNP VM; AKS names its
 * SEV-SNP class kata-cc-isolation) and the TEE of their VMs: a pod of one gets its evidence from
 * the guest kernel's configfs-tsm (`cloister run --tee tdx|snp`), so it needs no SGX EPC and no AESM.
 */
export const CONFIDENTIAL_RUNTIME_CLASSES: Readonly<Record<string, 'tdx' | 'snp'>> = {
  'kata-qemu-tdx': 'tdx',
  'kata-qemu-snp': 'snp',
  'kata-cc-isolation': 'snp',
};
export const SIM_DIR = '/var/run/cloister/sim';

/** How injected pods authenticate the coordinator: its root (PEM), or the policy its evidence must meet (JSON). */
export type CoordinatorTrust = { root: string } | { policy: string };

export interface InjectionConfig {
  /** The coordinator's mesh address, host:port. */
  coordinator: string;
  /** Handed to every pod, so `cloister run` talks only to this coordinator (docs/trust-model.md). */
  trust: CoordinatorTrust;
  resources: ResourceProvider;
  /** EPC per container when the pod sets none. */
  epcMiB: number;
  /** Whether pods use the AESM quote helper unless they say otherwise. */
  quoteHelper: boolean;
  /** The image that delivers the launcher; without it, commands are not wrapped. */
  launcherImage?: string;
  imagePullPolicy?: string;
  /** Simulation only: the node folder holding the simulated platform, shared with the coordinator. */
  simHostPath?: string;
  /** More confidential runtime classes (beside {@link CONFIDENTIAL_RUNTIME_CLASSES}) and their TEE. */
  runtimeClasses?: Readonly<Record<string, 'tdx' | 'snp'>>;
}

export interface Mutation {
  /** The manifest service, or undefined for a pod that is left untouched. */
  service: string | undefined;
  patch: PatchOp[];
  warnings: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj | undefined, k: string): string | undefined =>
  isObj(o) && typeof o[k] === 'string' ? o[k] : undefined;

/** A label or annotation value; labels first. */
function meta(pod: Obj, key: string): string | undefined {
  const m = isObj(pod['metadata']) ? pod['metadata'] : {};
  return str(m['labels'] as Obj, key) ?? str(m['annotations'] as Obj, key);
}

/**
 * The patch for one pod.
 *
 * @example
 * ```ts
 * const { patch, warnings } = mutatePod(review.request.object, { coordinator: 'cloister-mesh:2001', trust: { policy: '{"allowSimulation":true}' }, resources: 'azure', epcMiB: 10, quoteHelper: false }, review.request.namespace);
 * ```
 */
export function mutatePod(pod: unknown, config: InjectionConfig, namespace?: string): Mutation {
  if (!isObj(pod) || !isObj(pod['spec']) || !Array.isArray(pod['spec']['containers'])) {
    throw new CloisterError('REQUEST_INVALID', 'request.object is not a pod: spec.containers is missing');
  }
  const labels = isObj(pod['metadata']) && isObj(pod['metadata']['labels']) ? pod['metadata']['labels'] : {};
  const service = SERVICE_LABELS.map((l) => str(labels, l)).find((v) => v !== undefined && v !== '');
  if (service === undefined) return { service, patch: [], warnings: [] };

  const p = new JsonPatcher(pod);
  const warnings: string[] = [];
  const spec = pod['spec'];
  const name = str(pod['metadata'] as Obj, 'name') ?? str(pod['metadata'] as Obj, 'generateName') ?? 'pod';
  const disabled = (keys: readonly string[]) => keys.some((k) => meta(pod, k) === 'disabled');
  const runtimeClass = str(spec, 'runtimeClassName');
  const classes = { ...CONFIDENTIAL_RUNTIME_CLASSES, ...config.runtimeClasses };
  const vmTee = runtimeClass !== undefined && Object.hasOwn(classes, runtimeClass) ? classes[runtimeClass] : undefined;
  const helperSetting = meta(pod, QUOTE_HELPER_KEY);
  const quoteHelper =
    vmTee === undefined && (helperSetting === undefined ? config.quoteHelper : helperSetting === 'true');
  const wrap = config.launcherImage !== undefined && !disabled(OPT_OUT.launcher);
  const resources =
    disabled(OPT_OUT.resources) || vmTee !== undefined ? {} : SGX_RESOURCES[config.resources](config.epcMiB);

  // The names a Kubernetes Service of the same name gives the pod, for its certificate (as MarbleRun's injector does).
  const ns = namespace ?? str(pod['metadata'] as Obj, 'namespace') ?? 'default';
  const dnsNames = [service, `${service}.${ns}`, `${service}.${ns}.svc`, `${service}.${ns}.svc.cluster.local`];
  const env: Obj[] = [
    { name: 'CLOISTER_COORDINATOR', value: config.coordinator },
    'root' in config.trust
      ? { name: 'CLOISTER_COORDINATOR_ROOT', value: config.trust.root }
      : { name: 'CLOISTER_COORDINATOR_POLICY', value: config.trust.policy },
    { name: 'CLOISTER_SERVICE', value: service },
    { name: 'CLOISTER_DNS_NAMES', value: dnsNames.join(',') },
    // The pod's UID: one instance per pod, stable across container restarts.
    { name: 'CLOISTER_INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    // Gramine's and Occlum's DCAP quote library reach the AESM quote helper through its socket.
    ...(quoteHelper ? [{ name: 'SGX_AESM_ADDR', value: '1' }] : []),
    ...(vmTee !== undefined ? [{ name: 'CLOISTER_TEE', value: vmTee }] : []),
    ...(config.simHostPath !== undefined ? [{ name: 'CLOISTER_SIM_DIR', value: SIM_DIR }] : []),
  ];
  const mounts: Obj[] = [
    ...(quoteHelper ? [{ name: 'cloister-aesmd', mountPath: AESM_DIR }] : []),
    ...(config.simHostPath !== undefined ? [{ name: 'cloister-sim', mountPath: SIM_DIR, readOnly: true }] : []),
  ];

  let wrapped = 0;
  (spec['containers'] as unknown[]).forEach((c, i) => {
    if (!isObj(c)) return;
    const at = ['spec', 'containers', i];
    const cname = str(c, 'name') ?? String(i);
    const haveEnv = new Set(Array.isArray(c['env']) ? c['env'].map((e) => str(e as Obj, 'name')) : []);
    for (const e of env) if (!haveEnv.has(e['name'] as string)) p.append([...at, 'env'], e);
    const haveMounts = Array.isArray(c['volumeMounts']) ? c['volumeMounts'].filter(isObj) : [];
    const taken = (m: Obj) => haveMounts.some((h) => h['name'] === m['name'] || h['mountPath'] === m['mountPath']);
    for (const m of mounts) if (!taken(m)) p.append([...at, 'volumeMounts'], m);

    // A container that already asks for any of the provider's resources keeps what it asks for.
    const r = isObj(c['resources']) ? c['resources'] : {};
    const asked = [r['limits'], r['requests']].some((l) => isObj(l) && Object.keys(resources).some((k) => k in l));
    if (!asked) for (const [k, v] of Object.entries(resources)) p.set([...at, 'resources', 'limits', k], v);

    if (!wrap) return;
    const command =
      Array.isArray(c['command']) && c['command'].every((a) => typeof a === 'string') ? (c['command'] as string[]) : [];
    if (command[0] === launcherArgv()[0]) return;
    if (command.length === 0) {
      warnings.push(
        `cloister: container "${cname}" of pod "${name}" gives no command, so its image's entrypoint cannot be wrapped; set command, or start it with "cloister run --service ${service} --"`,
      );
      return;
    }
    p.set([...at, 'command'], [...launcherArgv(), 'run', '--service', service, '--', ...command]);
    if (!taken({ name: LAUNCHER_VOLUME, mountPath: LAUNCHER_DIR }))
      p.append([...at, 'volumeMounts'], { name: LAUNCHER_VOLUME, mountPath: LAUNCHER_DIR, readOnly: true });
    wrapped++;
  });

  const volumes = Array.isArray(spec['volumes']) ? spec['volumes'].filter(isObj).map((v) => v['name']) : [];
  const addVolume = (v: Obj) => volumes.includes(v['name']) || p.append(['spec', 'volumes'], v);
  if (quoteHelper) addVolume({ name: 'cloister-aesmd', hostPath: { path: AESM_DIR, type: 'DirectoryOrCreate' } });
  if (config.simHostPath !== undefined)
    addVolume({ name: 'cloister-sim', hostPath: { path: config.simHostPath, type: 'Directory' } });
  if (wrapped > 0) {
    addVolume({ name: LAUNCHER_VOLUME, emptyDir: {} });
    // Delivers the launcher into the shared volume before any application container starts.
    p.append(['spec', 'initContainers'], {
      name: 'cloister-launcher',
      image: config.launcherImage,
      ...(config.imagePullPolicy !== undefined ? { imagePullPolicy: config.imagePullPolicy } : {}),
      command: [...launcherArgv('/opt/cloister'), 'launcher', 'install', LAUNCHER_DIR],
      volumeMounts: [{ name: LAUNCHER_VOLUME, mountPath: LAUNCHER_DIR }],
    });
  }
  return { service, patch: p.ops, warnings };
}

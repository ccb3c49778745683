import { CloisterError } from '../../lib/errors.js';
import { HEALTHY, UNHEALTHY, type ContainerAllocateResponse, type Device } from './api.js';

/**
 * What the SGX device plugin advertises and hands out. Pure: the node's facts in (EPC size, which
 * device nodes exist), resources, device lists and Allocate answers out.
 *
 * The kernel's SGX driver (Linux 5.11+, Documentation/x86/sgx.rst) creates `/dev/sgx_enclave`
 * (every enclave) and `/dev/sgx_provision` (access to the provisioning key, needed by quoting
 * enclaves), and reports EPC per NUMA node in `/sys/devices/system/node/node*\/x86/sgx_total_bytes`.
 */

export const SGX_DEVICES = { enclave: 'sgx_enclave', provision: 'sgx_provision' } as const;
export type SgxDevice = keyof typeof SGX_DEVICES;

export interface PluginResource {
  /** The extended resource name the kubelet advertises. */
  name: string;
  /** How many devices: each stands for one unit of the resource. */
  count: number;
  /** The device nodes a container gets, the first one required for health. */
  devices: readonly SgxDevice[];
  /** Prefix of device ids. */
  idPrefix: string;
}

export interface NodeFacts {
  epcMiB: number;
  /** Device nodes present on the host. */
  present: ReadonlySet<SgxDevice>;
}

export interface PluginSettings {
  provider: 'azure' | 'intel';
  /** Intel: how many containers may share the enclave and provision devices. */
  enclaveLimit: number;
  /** Azure: also hand out /dev/sgx_provision where present. */
  provision: boolean;
}

/**
 * The resources per provider. Azure's add-on: EPC as `kubernetes.azure.com/sgx_epc_mem_in_MiB`, one
 * device per MiB. Intel's plugin: `sgx.intel.com/enclave` and `sgx.intel.com/provision`, shared
 * devices (`sgx.intel.com/epc` in bytes is a node extended resource that Intel advertises through
 * Node Feature Discovery, not through a device plugin).
 */
export function pluginResources(s: PluginSettings, node: NodeFacts): PluginResource[] {
  if (s.provider === 'azure') {
    return [
      {
        name: 'kubernetes.azure.com/sgx_epc_mem_in_MiB',
        count: node.epcMiB,
        devices: s.provision ? ['enclave', 'provision'] : ['enclave'],
        idPrefix: 'epc-mib',
      },
    ];
  }
  return [
    { name: 'sgx.intel.com/enclave', count: s.enclaveLimit, devices: ['enclave'], idPrefix: 'enclave' },
    { name: 'sgx.intel.com/provision', count: s.enclaveLimit, devices: ['provision'], idPrefix: 'provision' },
  ];
}

/** The device list of one resource; all unhealthy when its required device node is missing. */
export function deviceList(r: PluginResource, present: ReadonlySet<SgxDevice>): Device[] {
  const health = present.has(r.devices[0] as SgxDevice) ? HEALTHY : UNHEALTHY;
  const width = String(Math.max(r.count - 1, 0)).length;
  return Array.from({ length: r.count }, (_, i) => ({ ID: `${r.idPrefix}-${String(i).padStart(width, '0')}`, health }));
}

/** The Allocate answer for one container: the device nodes that exist, at their kernel paths. */
export function allocation(
  r: PluginResource,
  present: ReadonlySet<SgxDevice>,
  deviceIds: readonly string[],
  devDir = '/dev',
): ContainerAllocateResponse {
  if (deviceIds.length === 0) throw new CloisterError('REQUEST_INVALID', `Allocate for ${r.name} names no devices`);
  const unknown = deviceIds.find(
    (id) => !id.startsWith(`${r.idPrefix}-`) || !(Number(id.slice(r.idPrefix.length + 1)) < r.count),
  );
  if (unknown !== undefined)
    throw new CloisterError(
      'REQUEST_INVALID',
      `Allocate for ${r.name}: device "${unknown}" is not one of this plugin's`,
    );
  if (!present.has(r.devices[0] as SgxDevice))
    throw new CloisterError(
      'NO_TEE',
      `Allocate for ${r.name}: ${devDir}/${SGX_DEVICES[r.devices[0] as SgxDevice]} is missing on this node`,
    );
  const devices = r.devices
    .filter((d) => present.has(d))
    .map((d) => ({
      container_path: `/dev/${SGX_DEVICES[d]}`,
      host_path: `${devDir}/${SGX_DEVICES[d]}`,
      permissions: 'rw',
    }));
  return { envs: {}, mounts: [], devices, annotations: {} };
}

/** EPC in MiB from the per-NUMA-node byte counts of sysfs. */
export function epcMiBFromSysfs(totals: readonly string[]): number {
  let bytes = 0;
  for (const t of totals) {
    if (!/^\d+\s*$/.test(t))
      throw new CloisterError('IO', `sgx_total_bytes holds "${t.trim().slice(0, 40)}", not a byte count`);
    bytes += Number(t.trim());
  }
  return Math.floor(bytes / (1 << 20));
}

import { existsSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type * as Grpc from '@grpc/grpc-js';
import { CloisterError } from '../../lib/errors.js';
import { API_VERSION, KUBELET_SOCKET, loadApi, type Device, type DevicePluginApi } from './api.js';
import {
  allocation,
  deviceList,
  epcMiBFromSysfs,
  pluginResources,
  SGX_DEVICES,
  type PluginResource,
  type PluginSettings,
  type SgxDevice,
} from './sgx.js';

/**
 * `cloister device-plugin`: serves each SGX resource on its own socket in the kubelet's
 * device-plugin folder and registers it (kubelet device-plugin API v1beta1). It re-registers when
 * the kubelet restarts (the kubelet then recreates `kubelet.sock` and removes plugin sockets) and
 * reports devices unhealthy while the SGX device nodes are missing.
 */

export interface DevicePluginOptions extends PluginSettings {
  /** The kubelet's device-plugin folder. */
  pluginDir: string;
  /** Where this process sees the SGX device nodes. */
  devDir: string;
  /** Where the kubelet (the host) finds them, when this process runs in a container with the host's folder mounted elsewhere. */
  hostDevDir: string;
  /** EPC in MiB; read from sysfs when undefined. */
  epcMiB?: number;
  sysfsRoot: string;
  /** How often sockets and device nodes are checked, in milliseconds. */
  pollMs: number;
  log: (entry: Record<string, unknown>) => void;
  /** Hears of each registration with the kubelet and each Allocate, allocated or refused (for the metrics). */
  observe?: (event: 'registered' | 'allocated' | 'refused', resource: string) => void;
}

/** One resource's devices as the kubelet was last told: how many, and their health. */
export interface DeviceState {
  resource: string;
  count: number;
  health: string;
}

/** Sum of `node*\/x86/sgx_total_bytes` below the sysfs root. */
export function readEpcMiB(sysfsRoot: string): number {
  const nodes = join(sysfsRoot, 'devices/system/node');
  const files = existsSync(nodes)
    ? readdirSync(nodes)
        .filter((n) => /^node\d+$/.test(n))
        .map((n) => join(nodes, n, 'x86/sgx_total_bytes'))
        .filter((f) => existsSync(f))
    : [];
  if (files.length === 0)
    throw new CloisterError(
      'NO_TEE',
      `no SGX EPC in ${nodes}/node*/x86/sgx_total_bytes (no SGX, or a kernel older than 5.11): set --epc-mib`,
    );
  return epcMiBFromSysfs(files.map((f) => readFileSync(f, 'utf8')));
}

const presentDevices = (devDir: string): Set<SgxDevice> =>
  new Set((Object.keys(SGX_DEVICES) as SgxDevice[]).filter((d) => existsSync(join(devDir, SGX_DEVICES[d]))));
const inode = (path: string): number | undefined => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};
const socketName = (r: PluginResource) => `cloister-${r.name.replace(/[^A-Za-z0-9]+/g, '-')}.sock`;

type Watcher = Grpc.ServerWritableStream<unknown, { devices: Device[] }>;

/** One resource: its gRPC server on its socket and the ListAndWatch streams it feeds. */
class ResourceServer {
  readonly socket: string;
  #server: Grpc.Server | undefined;
  #watchers = new Set<Watcher>();
  #devices: Device[] = [];

  constructor(
    readonly api: DevicePluginApi,
    readonly resource: PluginResource,
    readonly o: DevicePluginOptions,
  ) {
    this.socket = join(o.pluginDir, socketName(resource));
  }

  get state(): DeviceState {
    return { resource: this.resource.name, count: this.#devices.length, health: this.#devices[0]?.health ?? 'none' };
  }

  update(present: ReadonlySet<SgxDevice>): void {
    const devices = deviceList(this.resource, present);
    if (devices[0]?.health === this.#devices[0]?.health && devices.length === this.#devices.length) return;
    this.#devices = devices;
    this.o.log({
      level: 'info',
      event: 'devices',
      resource: this.resource.name,
      count: devices.length,
      health: devices[0]?.health ?? 'none',
    });
    for (const w of this.#watchers) w.write({ devices });
  }

  async start(present: () => ReadonlySet<SgxDevice>): Promise<void> {
    const { grpc } = this.api;
    if (existsSync(this.socket)) unlinkSync(this.socket);
    const server = new grpc.Server();
    const unary =
      <Q, A>(f: (req: Q) => A): Grpc.handleUnaryCall<Q, A> =>
      (call, callback) => {
        try {
          callback(null, f(call.request));
        } catch (error) {
          this.o.log({
            level: 'warn',
            event: 'rpc-refused',
            resource: this.resource.name,
            message: (error as Error).message,
          });
          callback({ code: grpc.status.INVALID_ARGUMENT, details: (error as Error).message });
          if (call.getPath().endsWith('/Allocate')) this.o.observe?.('refused', this.resource.name);
        }
      };
    server.addService(this.api.devicePlugin.service, {
      GetDevicePluginOptions: unary(() => ({ pre_start_required: false, get_preferred_allocation_available: false })),
      ListAndWatch: (call: Watcher) => {
        this.#watchers.add(call);
        call.on('cancelled', () => this.#watchers.delete(call));
        call.on('close', () => this.#watchers.delete(call));
        call.write({ devices: this.#devices });
      },
      GetPreferredAllocation: unary(() => ({ container_responses: [] })),
      Allocate: unary((req: { container_requests: { devicesIDs: string[] }[] }) => {
        const container_responses = req.container_requests.map((c) =>
          allocation(this.resource, present(), c.devicesIDs, this.o.hostDevDir),
        );
        this.o.log({
          level: 'info',
          event: 'allocate',
          resource: this.resource.name,
          containers: req.container_requests.map((c) => c.devicesIDs.length),
        });
        this.o.observe?.('allocated', this.resource.name);
        return { container_responses };
      }),
      PreStartContainer: unary(() => ({})),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${this.socket}`, grpc.ServerCredentials.createInsecure(), (e) =>
        e ? reject(new CloisterError('IO', `cannot serve ${this.socket}: ${e.message}`, { cause: e })) : resolve(),
      ),
    );
    this.#server = server;
    await this.#register();
  }

  /** Registration with the kubelet (device-plugin API: the endpoint is the socket's name in the same folder). */
  async #register(): Promise<void> {
    const kubelet = join(this.o.pluginDir, KUBELET_SOCKET);
    const client = new this.api.registration(`unix://${kubelet}`, this.api.grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
    });
    const register = client['Register'] as (
      req: unknown,
      options: Grpc.CallOptions,
      done: (e: Error | null) => void,
    ) => void;
    try {
      await new Promise<void>((resolve, reject) =>
        register.call(
          client,
          {
            version: API_VERSION,
            endpoint: socketName(this.resource),
            resource_name: this.resource.name,
            options: { pre_start_required: false, get_preferred_allocation_available: false },
          },
          { deadline: Date.now() + 10_000 },
          (e: Error | null) =>
            e
              ? reject(
                  new CloisterError(
                    'IO',
                    `the kubelet at ${kubelet} refused the registration of ${this.resource.name}: ${e.message}`,
                    { cause: e },
                  ),
                )
              : resolve(),
        ),
      );
    } finally {
      client.close();
    }
    this.o.log({
      level: 'info',
      event: 'registered',
      resource: this.resource.name,
      socket: this.socket,
      devices: this.#devices.length,
    });
    this.o.observe?.('registered', this.resource.name);
  }

  stop(): void {
    for (const w of this.#watchers) w.end();
    this.#watchers.clear();
    this.#server?.forceShutdown();
    this.#server = undefined;
  }
}

/**
 * Runs the plugin until `close()`.
 *
 * @example
 * ```ts
 * const plugin = await startDevicePlugin({ provider: 'azure', enclaveLimit: 20, provision: true, pluginDir: DEVICE_PLUGIN_DIR, devDir: '/dev', hostDevDir: '/dev', sysfsRoot: '/sys', pollMs: 1000, log });
 * ```
 */
export async function startDevicePlugin(
  o: DevicePluginOptions,
): Promise<{ close(): void; resources: PluginResource[]; devices(): DeviceState[] }> {
  const api = await loadApi();
  const epcMiB = o.epcMiB ?? (o.provider === 'azure' ? readEpcMiB(o.sysfsRoot) : 0);
  let present = presentDevices(o.devDir);
  const servers = pluginResources(o, { epcMiB, present }).map((r) => new ResourceServer(api, r, o));
  const kubelet = join(o.pluginDir, KUBELET_SOCKET);
  let kubeletInode: number | undefined;
  let busy = false;

  // (Re)start every resource server whose socket is gone, or all of them when the kubelet is new.
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      present = presentDevices(o.devDir);
      for (const s of servers) s.update(present);
      const now = inode(kubelet);
      if (now === undefined) return;
      const restarted = now !== kubeletInode;
      for (const s of servers) {
        if (!restarted && existsSync(s.socket)) continue;
        s.stop();
        await s.start(() => present);
      }
      kubeletInode = now;
    } catch (error) {
      o.log({ level: 'error', event: 'register-failed', message: (error as Error).message });
    } finally {
      busy = false;
    }
  };
  for (const s of servers) s.update(present);
  if (inode(kubelet) === undefined) o.log({ level: 'warn', event: 'waiting-for-kubelet', socket: kubelet });
  await check();
  const timer = setInterval(() => void check(), o.pollMs);
  return {
    resources: servers.map((s) => s.resource),
    devices: () => servers.map((s) => s.state),
    close() {
      clearInterval(timer);
      for (const s of servers) {
        s.stop();
        if (existsSync(s.socket)) unlinkSync(s.socket);
      }
    },
  };
}

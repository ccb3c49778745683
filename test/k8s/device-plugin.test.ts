import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as Grpc from '@grpc/grpc-js';
import { loadApi, type DevicePluginApi } from '../../src/k8s/device-plugin/api.js';
import { startDevicePlugin, readEpcMiB } from '../../src/k8s/device-plugin/plugin.js';
import { allocation, deviceList, epcMiBFromSysfs, pluginResources } from '../../src/k8s/device-plugin/sgx.js';
import { CloisterError } from '../../src/lib/errors.js';
import { BIN, freePort, tempDir } from '../e2e/harness.js';
import { scrape } from '../e2e/scrape.js';

/**
 * The device plugin over real gRPC on Unix sockets, against a registration server that stands in
 * for the kubelet's (the real kubelet is exercised by test/k8s/cluster.test.ts).
 */

interface Registration {
  version: string;
  endpoint: string;
  resource_name: string;
}

async function fakeKubelet(api: DevicePluginApi, dir: string) {
  const registrations: Registration[] = [];
  const server = new api.grpc.Server();
  server.addService(api.registration.service, {
    Register: (call: Grpc.ServerUnaryCall<Registration, unknown>, done: Grpc.sendUnaryData<unknown>) => {
      registrations.push(call.request);
      done(null, {});
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${join(dir, 'kubelet.sock')}`, api.grpc.ServerCredentials.createInsecure(), (e) =>
      e ? reject(e) : resolve(),
    ),
  );
  return { registrations, stop: () => server.forceShutdown() };
}

function pluginClient(api: DevicePluginApi, socket: string) {
  const client = new api.devicePlugin(`unix://${socket}`, api.grpc.credentials.createInsecure());
  const unary = (method: string, req: unknown) =>
    new Promise<unknown>((resolve, reject) =>
      (client[method] as (r: unknown, cb: (e: Error | null, v: unknown) => void) => void).call(client, req, (e, v) =>
        e ? reject(e) : resolve(v),
      ),
    );
  return { client, unary };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), `timed out waiting for ${what}`);
};

describe('SGX device plugin (pure parts)', () => {
  it('capacity from sysfs: bytes per NUMA node summed, in MiB; garbage refused', () => {
    assert.equal(epcMiBFromSysfs(['67108864\n', '33554432\n']), 96);
    assert.throws(
      () => epcMiBFromSysfs(['-1']),
      (e: unknown) => e instanceof CloisterError && e.code === 'IO',
    );
    const sys = tempDir('sysfs');
    assert.throws(
      () => readEpcMiB(sys),
      (e: unknown) => e instanceof CloisterError && e.code === 'NO_TEE',
    );
    mkdirSync(join(sys, 'devices/system/node/node0/x86'), { recursive: true });
    writeFileSync(join(sys, 'devices/system/node/node0/x86/sgx_total_bytes'), String(128 << 20));
    assert.equal(readEpcMiB(sys), 128);
  });

  it('resources per provider, device lists and Allocate answers', () => {
    const both = new Set(['enclave', 'provision'] as const);
    const [azure] = pluginResources(
      { provider: 'azure', enclaveLimit: 20, provision: true },
      { epcMiB: 12, present: both },
    );
    assert.equal(azure?.name, 'kubernetes.azure.com/sgx_epc_mem_in_MiB');
    const devices = deviceList(azure!, both);
    assert.equal(devices.length, 12);
    assert.deepEqual(devices[0], { ID: 'epc-mib-00', health: 'Healthy' });
    assert.equal(deviceList(azure!, new Set(['provision'] as const))[0]?.health, 'Unhealthy');
    assert.deepEqual(allocation(azure!, both, ['epc-mib-03', 'epc-mib-11']).devices, [
      { container_path: '/dev/sgx_enclave', host_path: '/dev/sgx_enclave', permissions: 'rw' },
      { container_path: '/dev/sgx_provision', host_path: '/dev/sgx_provision', permissions: 'rw' },
    ]);
    // No provisioning device on the node: the enclave device alone.
    assert.deepEqual(
      allocation(azure!, new Set(['enclave'] as const), ['epc-mib-00']).devices.map((d) => d.container_path),
      ['/dev/sgx_enclave'],
    );
    for (const bad of [[], ['epc-mib-12'], ['enclave-0'], ['epc-mib-x']]) {
      assert.throws(
        () => allocation(azure!, both, bad),
        (e: unknown) => e instanceof CloisterError && e.code === 'REQUEST_INVALID',
      );
    }
    assert.throws(
      () => allocation(azure!, new Set(), ['epc-mib-00']),
      (e: unknown) => e instanceof CloisterError && e.code === 'NO_TEE',
    );
    const intel = pluginResources(
      { provider: 'intel', enclaveLimit: 4, provision: true },
      { epcMiB: 0, present: both },
    );
    assert.deepEqual(
      intel.map((r) => [r.name, r.count]),
      [
        ['sgx.intel.com/enclave', 4],
        ['sgx.intel.com/provision', 4],
      ],
    );
    assert.deepEqual(
      allocation(intel[1]!, both, ['provision-2']).devices.map((d) => d.container_path),
      ['/dev/sgx_provision'],
    );
  });
});

describe('SGX device plugin over gRPC', () => {
  let api: DevicePluginApi;
  let dir: string;
  let dev: string;
  let kubelet: Awaited<ReturnType<typeof fakeKubelet>>;
  let plugin: Awaited<ReturnType<typeof startDevicePlugin>>;
  const log: Record<string, unknown>[] = [];

  before(async () => {
    api = await loadApi();
    dir = tempDir('dp');
    dev = tempDir('dev');
    writeFileSync(join(dev, 'sgx_enclave'), '');
    kubelet = await fakeKubelet(api, dir);
    plugin = await startDevicePlugin({
      provider: 'azure',
      enclaveLimit: 20,
      provision: true,
      pluginDir: dir,
      devDir: dev,
      hostDevDir: '/host/dev',
      epcMiB: 16,
      sysfsRoot: '/nonexistent',
      pollMs: 50,
      log: (e) => log.push(e),
    });
  });
  after(() => {
    plugin.close();
    kubelet.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dev, { recursive: true, force: true });
  });

  it('registers its resource with the kubelet, lists its devices and allocates the device node', async () => {
    assert.deepEqual(kubelet.registrations, [
      {
        version: 'v1beta1',
        endpoint: 'cloister-kubernetes-azure-com-sgx-epc-mem-in-MiB.sock',
        resource_name: 'kubernetes.azure.com/sgx_epc_mem_in_MiB',
        options: { pre_start_required: false, get_preferred_allocation_available: false },
      },
    ]);
    const { client, unary } = pluginClient(api, join(dir, 'cloister-kubernetes-azure-com-sgx-epc-mem-in-MiB.sock'));
    assert.deepEqual(await unary('GetDevicePluginOptions', {}), {
      pre_start_required: false,
      get_preferred_allocation_available: false,
    });
    const answer = (await unary('Allocate', {
      container_requests: [{ devicesIDs: ['epc-mib-00', 'epc-mib-01'] }],
    })) as { container_responses: { devices: unknown[] }[] };
    assert.deepEqual(answer.container_responses[0]?.devices, [
      { container_path: '/dev/sgx_enclave', host_path: '/host/dev/sgx_enclave', permissions: 'rw' },
    ]);
    await assert.rejects(
      unary('Allocate', { container_requests: [{ devicesIDs: ['epc-mib-99'] }] }),
      /not one of this plugin's/,
    );

    // ListAndWatch: the devices, then an update when the device node goes away and comes back.
    const updates: { devices: { ID: string; health: string }[] }[] = [];
    const stream = (
      client['ListAndWatch'] as (r: unknown) => Grpc.ClientReadableStream<{ devices: { ID: string; health: string }[] }>
    ).call(client, {});
    stream.on('data', (d: { devices: { ID: string; health: string }[] }) => updates.push(d));
    stream.on('error', () => undefined);
    await until(() => updates.length === 1, 'the first device list');
    assert.equal(updates[0]?.devices.length, 16);
    assert.ok(updates[0]?.devices.every((d) => d.health === 'Healthy'));
    rmSync(join(dev, 'sgx_enclave'));
    await until(() => updates.length === 2, 'the unhealthy update');
    assert.ok(updates[1]?.devices.every((d) => d.health === 'Unhealthy'));
    writeFileSync(join(dev, 'sgx_enclave'), '');
    await until(() => updates.length === 3, 'the healthy update');
    assert.ok(updates[2]?.devices.every((d) => d.health === 'Healthy'));
    stream.cancel();
    client.close();
  });

  it('re-registers when the kubelet restarts (kubelet.sock recreated, plugin sockets removed)', async () => {
    const before = kubelet.registrations.length;
    kubelet.stop();
    rmSync(join(dir, 'cloister-kubernetes-azure-com-sgx-epc-mem-in-MiB.sock'), { force: true });
    rmSync(join(dir, 'kubelet.sock'), { force: true });
    kubelet = await fakeKubelet(api, dir);
    await until(() => kubelet.registrations.length > 0, 're-registration');
    assert.equal(kubelet.registrations[0]?.resource_name, 'kubernetes.azure.com/sgx_epc_mem_in_MiB');
    assert.ok(before >= 1);
    assert.ok(existsSync(join(dir, 'cloister-kubernetes-azure-com-sgx-epc-mem-in-MiB.sock')));
    assert.ok(log.some((e) => e['event'] === 'registered'));
  });
});

describe('cloister device-plugin as a process: its metrics, scraped', () => {
  let api: DevicePluginApi;
  let child: ChildProcess;
  let kubelet: Awaited<ReturnType<typeof fakeKubelet>>;
  let metrics: string;
  const dir = tempDir('dp-metrics');
  const dev = tempDir('dev-metrics');

  before(async () => {
    api = await loadApi();
    writeFileSync(join(dev, 'sgx_enclave'), '');
    kubelet = await fakeKubelet(api, dir);
    metrics = `127.0.0.1:${await freePort()}`;
    child = spawn(process.execPath, [
      BIN,
      'device-plugin',
      '--plugin-dir',
      dir,
      '--dev-dir',
      dev,
      '--epc-mib',
      '8',
      '--poll-ms',
      '50',
      '--metrics-addr',
      metrics,
    ]);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('"event":"metrics"')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`device-plugin exited ${code}: ${log}`)));
    });
  });
  after(() => {
    child.kill('SIGKILL');
    kubelet.stop();
  });

  it('registrations, allocations (allocated and refused) and devices by health; build info', async () => {
    const resource = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
    await until(() => kubelet.registrations.length === 1, 'the registration');
    const { client, unary } = pluginClient(api, join(dir, 'cloister-kubernetes-azure-com-sgx-epc-mem-in-MiB.sock'));
    await unary('Allocate', { container_requests: [{ devicesIDs: ['epc-mib-00'] }] });
    await assert.rejects(unary('Allocate', { container_requests: [{ devicesIDs: ['epc-mib-99'] }] }));
    client.close();
    const s = await scrape(metrics);
    assert.equal(s.value('cloister_build_info', { component: 'device-plugin' }), 1);
    assert.equal(s.value('cloister_device_plugin_events_total', { resource, event: 'registered' }), 1);
    assert.equal(s.value('cloister_device_plugin_events_total', { resource, event: 'allocated' }), 1);
    assert.equal(s.value('cloister_device_plugin_events_total', { resource, event: 'refused' }), 1);
    assert.equal(s.value('cloister_device_plugin_devices', { resource, health: 'Healthy' }), 8);
  });
});

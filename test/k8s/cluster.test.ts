import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '../../src/lib/bytes.js';
import { measure } from '../../src/run/measure.js';
import { launcherArgv } from '../../src/k8s/webhook/mutate.js';
import { cloister, freePort, tempDir } from '../e2e/harness.js';
import { userCert } from '../e2e/users.js';
import {
  helm,
  IMAGE_BUSYBOX,
  kube,
  loadImage,
  REPO,
  podLogs,
  restartKubelet,
  SKIP_CLUSTER,
  SKIP_NODE,
  suiteUnless,
  waitFor,
  type Kube,
} from './cluster.js';

/**
 * cloister on a real Kubernetes: the Helm chart installed into a real API server, and (with the
 * local kubelet of scripts/k8s-test-env.sh) its coordinator, webhook and device plugin
 * running as pods, a labelled pod injected, scheduled on the advertised EPC, started by the
 * kubelet, activated, and printing the secret it received.
 */

const RELEASE = 'ct';
const NS = `cloister-test-${process.pid}`;
const dir = tempDir('k8s');
const simDir = join(dir, 'sim');
const dataDir = join(dir, 'data');
const devDir = join('/run', `cloister-test-dev-${process.pid}`);
const EPC = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
const tolerations = [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }];
// On this node pods run without a pod network: host network, images loaded locally.
const podBase = (name: string, labels: Record<string, string>, command: string[], limits?: Record<string, string>) => ({
  metadata: { name, labels },
  spec: {
    hostNetwork: true,
    tolerations,
    restartPolicy: 'Never',
    containers: [
      {
        name: 'app',
        image: 'docker.io/library/busybox:test',
        imagePullPolicy: 'Never',
        command,
        ...(limits ? { resources: { limits } } : {}),
      },
    ],
  },
});

let k: Kube;
let ports: { client: number; mesh: number; webhook: number };

const values = () => ({
  image: { repository: 'localhost/cloister', tag: 'test', pullPolicy: 'Never' },
  hostNetwork: true,
  tolerations,
  simulation: { enabled: true, hostPath: simDir },
  resourceKey: 'azure',
  coordinator: {
    clientPort: ports.client,
    meshPort: ports.mesh,
    meshAddress: `127.0.0.1:${ports.mesh}`,
    persistence: { hostPath: dataDir },
  },
  webhook: {
    port: ports.webhook,
    url: `https://127.0.0.1:${ports.webhook}/mutate`,
    tls: { ipAddresses: ['127.0.0.1'] },
  },
  devicePlugin: { epcMiB: 64, devDir },
});

const podPhase = async (name: string) => (await k.core.readNamespacedPod({ name, namespace: NS })).status?.phase;

suiteUnless(SKIP_CLUSTER, 'Kubernetes: the Helm chart on a real API server', () => {
  before(async () => {
    k = await kube();
    ports = { client: await freePort(), mesh: await freePort(), webhook: await freePort() };
    mkdirSync(simDir, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    if (!SKIP_NODE) {
      // The SGX device nodes this machine lacks, as character devices (the null device's numbers).
      mkdirSync(devDir, { recursive: true });
      for (const d of ['sgx_enclave', 'sgx_provision'])
        if (!existsSync(join(devDir, d))) execFileSync('mknod', ['-m', '666', join(devDir, d), 'c', '1', '3']);
      loadImage('localhost/cloister:test', join(dir, 'image.tar'));
      // What Node Feature Discovery says of an SGX node; the device plugin runs on such nodes.
      await k.core.patchNode(
        {
          name: 'localhost',
          body: { metadata: { labels: { 'feature.node.kubernetes.io/cpu-security.sgx.enabled': 'true' } } },
        },
        k.k8s.setHeaderOptions('Content-Type', k.k8s.PatchStrategy.MergePatch),
      );
    }
    writeFileSync(join(dir, 'values.json'), JSON.stringify(values()));
    helm([
      'install',
      RELEASE,
      join(REPO, 'deploy/helm/cloister'),
      '--namespace',
      NS,
      '--create-namespace',
      '-f',
      join(dir, 'values.json'),
    ]);
  });
  after(async () => {
    try {
      helm(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '60s']);
      await k.core.deleteNamespace({ name: NS });
    } catch {
      // Best effort: the cluster is torn down by .ci/run anyway.
    }
    rmSync(devDir, { recursive: true, force: true });
  });

  it('helm lint is clean and the installed objects are as expected', async () => {
    assert.match(
      helm(['lint', join(REPO, 'deploy/helm/cloister'), '-f', join(dir, 'values.json')]),
      /0 chart\(s\) failed/,
    );
    const set = (await k.apps.readNamespacedStatefulSet({ name: `${RELEASE}-coordinator`, namespace: NS })).spec!;
    const c = set.template.spec!.containers[0]!;
    assert.deepEqual(c.command, launcherArgv('/opt/cloister'));
    assert.ok(c.args!.includes('--simulation') && c.args!.includes(`--mesh-addr=0.0.0.0:${ports.mesh}`));
    assert.equal(c.readinessProbe?.httpGet?.path, '/api/v1/status');
    assert.equal(set.template.spec!.volumes!.find((v) => v.name === 'data')?.hostPath?.path, dataDir);
    const services = (await k.core.listNamespacedService({ namespace: NS })).items
      .map((s) => `${s.metadata!.name}:${s.spec!.ports![0]!.port}`)
      .sort();
    assert.deepEqual(services, [
      `${RELEASE}-coordinator-client:${ports.client}`,
      `${RELEASE}-coordinator-mesh:${ports.mesh}`,
      `${RELEASE}-webhook:443`,
    ]);

    const hooks = (await k.admission.readMutatingWebhookConfiguration({ name: `${RELEASE}-webhook-${NS}` })).webhooks!;
    assert.deepEqual(
      hooks.map((h) => [
        h.name,
        h.failurePolicy,
        h.sideEffects,
        h.clientConfig.url,
        h.objectSelector?.matchExpressions?.[0]?.key,
      ]),
      [
        ['pods.cloister.dev', 'Fail', 'None', `https://127.0.0.1:${ports.webhook}/mutate`, 'cloister.dev/service'],
        ['marbles.cloister.dev', 'Fail', 'None', `https://127.0.0.1:${ports.webhook}/mutate`, 'marblerun/marbletype'],
      ],
    );
    // The caBundle is the CA of the webhook's own certificate Secret.
    const tls = await k.core.readNamespacedSecret({ name: `${RELEASE}-webhook-tls`, namespace: NS });
    assert.equal(hooks[0]!.clientConfig.caBundle, tls.data!['ca.crt']);
    const ca = new (await import('node:crypto')).X509Certificate(Buffer.from(tls.data!['ca.crt']!, 'base64'));
    assert.ok(
      new (await import('node:crypto')).X509Certificate(Buffer.from(tls.data!['tls.crt']!, 'base64')).verify(
        ca.publicKey,
      ),
    );

    const ds = (await k.apps.readNamespacedDaemonSet({ name: `${RELEASE}-device-plugin`, namespace: NS })).spec!
      .template.spec!;
    assert.deepEqual(
      ds.volumes!.map((v) => v.hostPath?.path),
      ['/var/lib/kubelet/device-plugins', devDir, '/sys'],
    );
    assert.ok(ds.containers[0]!.args!.includes('--epc-mib=64'));
    // Least privilege: no component has an API token or a role.
    const accounts = (await k.core.listNamespacedServiceAccount({ namespace: NS })).items.filter(
      (a) => a.metadata!.name !== 'default',
    );
    assert.equal(accounts.length, 4);
    assert.ok(accounts.every((a) => a.automountServiceAccountToken === false));
    assert.equal((await k.rbac.listNamespacedRoleBinding({ namespace: NS })).items.length, 0);
  });

  suiteUnless(SKIP_NODE, 'with the local kubelet', () => {
    it('the coordinator, webhook and device plugin pods come up, and the node advertises the EPC', async () => {
      await waitFor('the coordinator to be ready', async () =>
        (await k.apps.readNamespacedStatefulSet({ name: `${RELEASE}-coordinator`, namespace: NS })).status
          ?.readyReplicas === 1
          ? true
          : undefined,
      );
      await waitFor('the webhook to be ready', async () =>
        (await k.apps.readNamespacedDeployment({ name: `${RELEASE}-webhook`, namespace: NS })).status?.readyReplicas ===
        1
          ? true
          : undefined,
      );
      const epc = await waitFor('the node to advertise EPC', async () => {
        const node = (await k.core.readNode({ name: 'localhost' })).status;
        return node?.allocatable?.[EPC] === '64' ? node.capacity?.[EPC] : undefined;
      });
      assert.equal(epc, '64');
      const check = await cloister(['k8s', 'check', '--namespace', NS, '--release', RELEASE, '--json']);
      const findings = JSON.parse(check.stdout) as {
        ok: boolean;
        findings: { component: string; ok: boolean; detail: string }[];
      };
      assert.equal(findings.ok, true, check.stdout);
      assert.deepEqual(
        findings.findings.map((f) => f.component),
        ['coordinator', 'webhook', 'device-plugin'],
      );
      assert.match(findings.findings[1]!.detail, new RegExp(`got coordinator 127\\.0\\.0\\.1:${ports.mesh}`));
      assert.match(findings.findings[2]!.detail, /localhost kubernetes\.azure\.com\/sgx_epc_mem_in_MiB=64/);
    });

    it('a labelled pod comes back mutated as specified; an unlabelled one untouched', async () => {
      const command = ['sh', '-c', 'echo hi'];
      const created = await k.core.createNamespacedPod({
        namespace: NS,
        body: {
          ...podBase('labelled', { 'cloister.dev/service': 'hello' }, command),
          spec: { ...podBase('', {}, command).spec, nodeSelector: { 'cloister.dev/never': 'true' } },
        },
      });
      const plain = await k.core.createNamespacedPod({
        namespace: NS,
        body: {
          ...podBase('plain', { app: 'plain' }, command),
          spec: { ...podBase('', {}, command).spec, nodeSelector: { 'cloister.dev/never': 'true' } },
        },
      });
      const c = created.spec!.containers[0]!;
      assert.deepEqual(c.command, [...launcherArgv(), 'run', '--service', 'hello', '--', ...command]);
      assert.deepEqual(
        c.env!.map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
        [
          ['CLOISTER_COORDINATOR', `127.0.0.1:${ports.mesh}`],
          // The chart in simulation: pods attest the coordinator against the shared simulated platform.
          ['CLOISTER_COORDINATOR_POLICY', '{"allowSimulation":true,"expected":{}}'],
          ['CLOISTER_SERVICE', 'hello'],
          ['CLOISTER_DNS_NAMES', `hello,hello.${NS},hello.${NS}.svc,hello.${NS}.svc.cluster.local`],
          ['CLOISTER_INSTANCE_ID', 'metadata.uid'],
          ['CLOISTER_SIM_DIR', '/var/run/cloister/sim'],
        ],
      );
      assert.deepEqual(JSON.parse(JSON.stringify(c.resources)), { limits: { [EPC]: '10' }, requests: { [EPC]: '10' } });
      assert.deepEqual(
        c
          .volumeMounts!.filter((m) => !m.name.startsWith('default-token'))
          .map((m) => [m.name, m.mountPath, m.readOnly ?? false]),
        [
          ['cloister-sim', '/var/run/cloister/sim', true],
          ['cloister-launcher', '/cloister', true],
        ],
      );
      const init = created.spec!.initContainers!;
      assert.deepEqual(
        init.map((i) => [i.name, i.image, i.imagePullPolicy, i.command]),
        [
          [
            'cloister-launcher',
            'localhost/cloister:test',
            'Never',
            [...launcherArgv('/opt/cloister'), 'launcher', 'install', '/cloister'],
          ],
        ],
      );
      assert.deepEqual(
        created
          .spec!.volumes!.filter((v) => v.name.startsWith('cloister-'))
          .map((v) => [v.name, v.hostPath?.path ?? (v.emptyDir ? 'emptyDir' : '?')]),
        [
          ['cloister-sim', simDir],
          ['cloister-launcher', 'emptyDir'],
        ],
      );
      const p = plain.spec!.containers[0]!;
      assert.deepEqual(p.command, command);
      assert.equal(p.env, undefined);
      assert.equal(plain.spec!.initContainers, undefined);
      assert.deepEqual(JSON.parse(JSON.stringify(p.resources)), {});
    });

    it('the whole path: an unmodified command, injected, scheduled on EPC, activates and prints the secret it received', async () => {
      const root = join(dir, 'root.pem');
      const admin = await userCert('admin');
      writeFileSync(join(dir, 'admin.pem'), admin.cert);
      writeFileSync(join(dir, 'admin.key'), admin.key);
      const client = `127.0.0.1:${ports.client}`;
      const v = await cloister([
        'verify',
        '--coordinator',
        client,
        '--simulation',
        '--sim-dir',
        simDir,
        '--root-out',
        root,
        '--json',
      ]);
      assert.equal(v.code, 0, v.stderr);
      const manifest = {
        // busybox's sh, as the container runs it: the image's own binary.
        Packages: { hello: { UniqueID: hex(measure(IMAGE_BUSYBOX)), Debug: false, TEE: 'sim' } },
        Marbles: { hello: { Package: 'hello', Parameters: { Env: { GREETING: '{{ string .Secrets.greeting }}' } } } },
        Secrets: { greeting: { Type: 'plain', UserDefined: true } },
        Users: { admin: { Certificate: admin.cert, Roles: ['writer'] } },
        Roles: { writer: { ResourceType: 'Secrets', ResourceNames: ['greeting'], Actions: ['WriteSecret'] } },
      };
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      writeFileSync(join(dir, 'greeting.txt'), 'hello from the coordinator');
      const user = [
        '--coordinator',
        client,
        '--root',
        root,
        '--cert',
        join(dir, 'admin.pem'),
        '--key',
        join(dir, 'admin.key'),
      ];
      assert.equal(
        (await cloister(['manifest', 'set', join(dir, 'manifest.json'), '--coordinator', client, '--root', root])).code,
        0,
      );
      assert.equal(
        (await cloister(['secret', 'set', 'greeting', '--from', join(dir, 'greeting.txt'), '--type', 'plain', ...user]))
          .code,
        0,
      );

      await k.core.createNamespacedPod({
        namespace: NS,
        body: podBase('hello', { 'cloister.dev/service': 'hello' }, [
          'sh',
          '-c',
          'echo "secret=$GREETING"; ls /dev/sgx_enclave; echo "service=$CLOISTER_SERVICE"',
        ]),
      });
      const phase = await waitFor('the pod to finish', async () => {
        const ph = await podPhase('hello');
        return ph === 'Succeeded' || ph === 'Failed' ? ph : undefined;
      });
      const logs = await podLogs(k, NS, 'hello', 'app');
      assert.equal(phase, 'Succeeded', logs);
      assert.match(logs, /^secret=hello from the coordinator$/m);
      assert.match(logs, /^\/dev\/sgx_enclave$/m);
      assert.match(logs, /^service=hello$/m);
    });

    it('a pod asking for more EPC than the node has stays pending', async () => {
      await k.core.createNamespacedPod({
        namespace: NS,
        body: podBase('greedy', { app: 'greedy' }, ['sh', '-c', 'true'], { [EPC]: '65' }),
      });
      const reason = await waitFor('the scheduler to refuse the pod', async () => {
        const s = (await k.core.readNamespacedPod({ name: 'greedy', namespace: NS })).status;
        const c = s?.conditions?.find((x) => x.type === 'PodScheduled');
        return c?.status === 'False' ? `${c.reason}: ${c.message}` : undefined;
      });
      assert.match(reason, /Unschedulable: .*Insufficient kubernetes\.azure\.com\/sgx_epc_mem_in_MiB/);
      assert.equal(await podPhase('greedy'), 'Pending');
    });

    it('after a kubelet restart the plugin registers again and EPC pods start', async () => {
      const registrations = async () => {
        const pods = await k.core.listNamespacedPod({
          namespace: NS,
          labelSelector: 'app.kubernetes.io/component=device-plugin',
        });
        return (await podLogs(k, NS, pods.items[0]!.metadata!.name!))
          .split('\n')
          .filter((l) => l.includes('"event":"registered"')).length;
      };
      const before = await registrations();
      await restartKubelet();
      await waitFor('a new registration', async () => ((await registrations()) > before ? true : undefined));
      await k.core.createNamespacedPod({
        namespace: NS,
        body: podBase('after-restart', { app: 'after' }, ['sh', '-c', 'ls /dev/sgx_enclave'], { [EPC]: '10' }),
      });
      const phase = await waitFor('the pod to finish', async () => {
        const ph = await podPhase('after-restart');
        return ph === 'Succeeded' || ph === 'Failed' ? ph : undefined;
      });
      assert.equal(phase, 'Succeeded', await podLogs(k, NS, 'after-restart'));
    });
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mutatePod, launcherArgv, type InjectionConfig } from '../../src/k8s/webhook/mutate.js';
import { answerReview } from '../../src/k8s/webhook/review.js';
import { pointer, type PatchOp } from '../../src/k8s/webhook/patch.js';
import { CloisterError } from '../../src/lib/errors.js';

const config: InjectionConfig = {
  coordinator: 'cloister-mesh.cloister:2001',
  trust: { policy: '{"allowSimulation":true}' },
  resources: 'azure',
  epcMiB: 10,
  quoteHelper: false,
  launcherImage: 'ghcr.io/cloister/cloister:0.1.0',
};

/** RFC 6902 `add` (the only op the webhook emits), written independently of the patcher. */
function apply(doc: unknown, ops: PatchOp[]): unknown {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    assert.equal(op.op, 'add');
    const keys = op.path
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop() as string;
    let at: unknown = out;
    for (const k of keys) {
      at = (at as Record<string, unknown>)[k];
      assert.ok(typeof at === 'object' && at !== null, `${op.path}: parent ${k} missing`);
    }
    if (Array.isArray(at)) {
      if (last === '-') at.push(op.value);
      else at.splice(Number(last), 0, op.value);
    } else (at as Record<string, unknown>)[last] = op.value;
  }
  return out;
}

const pod = (extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'backend-0', namespace: 'shop', labels: { 'cloister.dev/service': 'backend' }, ...extra },
  spec: {
    containers: [
      { name: 'app', image: 'shop/backend:1', command: ['python3', 'app.py'], args: ['--port', '8080'], ...container },
    ],
  },
});

test('a labelled pod gets the coordinator, its service and instance id, EPC, and its command wrapped by the launcher', () => {
  const m = mutatePod(pod(), config);
  assert.equal(m.service, 'backend');
  assert.deepEqual(m.warnings, []);
  assert.deepEqual(apply(pod(), m.patch), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'backend-0', namespace: 'shop', labels: { 'cloister.dev/service': 'backend' } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'shop/backend:1',
          command: [...launcherArgv(), 'run', '--service', 'backend', '--', 'python3', 'app.py'],
          args: ['--port', '8080'],
          env: [
            { name: 'CLOISTER_COORDINATOR', value: 'cloister-mesh.cloister:2001' },
            { name: 'CLOISTER_COORDINATOR_POLICY', value: '{"allowSimulation":true}' },
            { name: 'CLOISTER_SERVICE', value: 'backend' },
            {
              name: 'CLOISTER_DNS_NAMES',
              value: 'backend,backend.shop,backend.shop.svc,backend.shop.svc.cluster.local',
            },
            { name: 'CLOISTER_INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
          ],
          resources: { limits: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '10' } },
          volumeMounts: [{ name: 'cloister-launcher', mountPath: '/cloister', readOnly: true }],
        },
      ],
      volumes: [{ name: 'cloister-launcher', emptyDir: {} }],
      initContainers: [
        {
          name: 'cloister-launcher',
          image: 'ghcr.io/cloister/cloister:0.1.0',
          command: [...launcherArgv('/opt/cloister'), 'launcher', 'install', '/cloister'],
          volumeMounts: [{ name: 'cloister-launcher', mountPath: '/cloister' }],
        },
      ],
    },
  });
  // Paths with a slash in a key are escaped (RFC 6901).
  assert.ok(
    m.patch.some((op) => op.path === '/spec/containers/0/resources/limits/kubernetes.azure.com~1sgx_epc_mem_in_MiB'),
  );
});

test('an unlabelled pod passes untouched, and the MarbleRun label is honoured', () => {
  const plain = {
    metadata: { name: 'x', labels: { app: 'x' } },
    spec: { containers: [{ name: 'a', image: 'a', command: ['a'] }] },
  };
  assert.deepEqual(mutatePod(plain, config), { service: undefined, patch: [], warnings: [] });
  const marble = mutatePod(pod({ labels: { 'marblerun/marbletype': 'frontend' } }), config);
  assert.equal(marble.service, 'frontend');
});

test('values the pod already sets are never overwritten', () => {
  const own = pod(
    {},
    {
      env: [
        { name: 'CLOISTER_COORDINATOR', value: 'elsewhere:2001' },
        { name: 'OTHER', value: '1' },
      ],
      resources: { requests: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '64' }, limits: { memory: '1Gi' } },
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
    },
  );
  const out = apply(own, mutatePod(own, config).patch) as ReturnType<typeof pod>;
  const c = out.spec.containers[0] as Record<string, unknown>;
  assert.deepEqual(
    (c['env'] as { name: string }[]).map((e) => e.name),
    [
      'CLOISTER_COORDINATOR',
      'OTHER',
      'CLOISTER_COORDINATOR_POLICY',
      'CLOISTER_SERVICE',
      'CLOISTER_DNS_NAMES',
      'CLOISTER_INSTANCE_ID',
    ],
  );
  assert.equal((c['env'] as { value?: string }[])[0]?.value, 'elsewhere:2001');
  assert.deepEqual(c['resources'], {
    requests: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '64' },
    limits: { memory: '1Gi' },
  });
  assert.deepEqual(
    (c['volumeMounts'] as { name: string }[]).map((m) => m.name),
    ['data', 'cloister-launcher'],
  );
  // A second pass (the webhook called again, reinvocationPolicy) changes nothing more.
  const again = mutatePod(out, config);
  assert.deepEqual(apply(out, again.patch), out);
  assert.deepEqual(
    again.patch.filter((op) => op.path.includes('command') || op.path.includes('initContainers')),
    [],
  );
});

test('Intel resources in bytes with the enclave and provision devices; opt-outs; the quote helper; simulation', () => {
  const intel = apply(pod(), mutatePod(pod(), { ...config, resources: 'intel', epcMiB: 32 }).patch) as ReturnType<
    typeof pod
  >;
  assert.deepEqual((intel.spec.containers[0] as Record<string, unknown>)['resources'], {
    limits: { 'sgx.intel.com/epc': '32Mi', 'sgx.intel.com/enclave': '1', 'sgx.intel.com/provision': '1' },
  });

  const optedOut = pod({
    labels: { 'cloister.dev/service': 'b', 'marblerun/resource-injection': 'disabled' },
    annotations: { 'cloister.dev/launcher': 'disabled', 'cloister.dev/quote-helper': 'true' },
  });
  const o = apply(optedOut, mutatePod(optedOut, { ...config, simHostPath: '/var/lib/cloister/sim' }).patch) as {
    spec: { containers: Record<string, unknown>[]; volumes: unknown[]; initContainers?: unknown };
  };
  const c = o.spec.containers[0] as Record<string, unknown>;
  assert.equal(c['resources'], undefined);
  assert.deepEqual(c['command'], ['python3', 'app.py']);
  assert.equal(o.spec.initContainers, undefined);
  assert.deepEqual(
    (c['env'] as { name: string }[]).map((e) => e.name),
    [
      'CLOISTER_COORDINATOR',
      'CLOISTER_COORDINATOR_POLICY',
      'CLOISTER_SERVICE',
      'CLOISTER_DNS_NAMES',
      'CLOISTER_INSTANCE_ID',
      'SGX_AESM_ADDR',
      'CLOISTER_SIM_DIR',
    ],
  );
  assert.deepEqual(c['volumeMounts'], [
    { name: 'cloister-aesmd', mountPath: '/var/run/aesmd' },
    { name: 'cloister-sim', mountPath: '/var/run/cloister/sim', readOnly: true },
  ]);
  assert.deepEqual(o.spec.volumes, [
    { name: 'cloister-aesmd', hostPath: { path: '/var/run/aesmd', type: 'DirectoryOrCreate' } },
    { name: 'cloister-sim', hostPath: { path: '/var/lib/cloister/sim', type: 'Directory' } },
  ]);
  // The cluster-wide quote helper setting can be turned off per pod.
  const off = pod({ annotations: { 'cloister.dev/quote-helper': 'false' } });
  assert.ok(!JSON.stringify(mutatePod(off, { ...config, quoteHelper: true }).patch).includes('SGX_AESM_ADDR'));
});

test('a container without a command is not wrapped and the webhook says why', () => {
  const m = mutatePod(pod({}, { command: undefined }), config);
  assert.equal(m.warnings.length, 1);
  assert.match(m.warnings[0] ?? '', /container "app" of pod "backend-0" gives no command/);
  assert.ok(!m.patch.some((op) => op.path.startsWith('/spec/initContainers')));
});

test('AdmissionReview: the answer carries the uid and a base64 JSON patch; non-pods and malformed reviews', () => {
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u-1', namespace: 'shop', kind: { group: '', version: 'v1', kind: 'Pod' }, object: pod() },
  };
  const a = answerReview(review, config);
  const response = a.review['response'] as { uid: string; allowed: boolean; patchType: string; patch: string };
  assert.equal(response.uid, 'u-1');
  assert.equal(response.allowed, true);
  assert.equal(response.patchType, 'JSONPatch');
  assert.deepEqual(JSON.parse(Buffer.from(response.patch, 'base64').toString()), mutatePod(pod(), config).patch);
  // The request's namespace names the pod's DNS names (a pod being created may not carry it yet).
  const elsewhere = answerReview({ ...review, request: { ...review.request, namespace: 'prod' } }, config).review[
    'response'
  ] as { patch: string };
  assert.match(Buffer.from(elsewhere.patch, 'base64').toString(), /backend\.prod\.svc\.cluster\.local/);
  const unlabelled = answerReview(
    { ...review, request: { ...review.request, object: { metadata: {}, spec: { containers: [] } } } },
    config,
  );
  assert.deepEqual(unlabelled.review['response'], { uid: 'u-1', allowed: true });
  for (const bad of [
    null,
    {},
    { ...review, apiVersion: 'v1' },
    { ...review, request: { kind: { kind: 'Pod' } } },
    { ...review, request: { ...review.request, object: { metadata: { labels: { 'cloister.dev/service': 'x' } } } } },
  ]) {
    assert.throws(
      () => answerReview(bad, config),
      (e: unknown) => e instanceof CloisterError && e.code === 'REQUEST_INVALID',
    );
  }
});

test('property: any pod object yields a patch that applies to it, or the typed error', () => {
  const json = fc.jsonValue({ maxDepth: 4 });
  const podLike = fc.record(
    {
      metadata: fc.record({
        labels: fc.dictionary(fc.constantFrom('cloister.dev/service', 'marblerun/marbletype', 'x'), fc.string()),
      }),
      spec: fc.record({
        containers: fc.array(
          fc.oneof(
            json,
            fc.record({
              name: fc.string(),
              command: fc.oneof(json, fc.array(fc.string())),
              env: fc.oneof(json, fc.array(json)),
              resources: json,
              volumeMounts: json,
            }),
          ),
        ),
        volumes: json,
      }),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(json, podLike), (p) => {
      let m;
      try {
        m = mutatePod(p, { ...config, quoteHelper: true });
      } catch (e) {
        assert.ok(e instanceof CloisterError && e.code === 'REQUEST_INVALID');
        return;
      }
      apply(p, m.patch);
    }),
    { numRuns: 500 },
  );
});

test('JSON pointer escaping (RFC 6901)', () => {
  assert.equal(pointer(['a/b', 'c~d', 0]), '/a~1b/c~0d/0');
});

test('pods pin the coordinator: its root when the webhook has one, else the policy to attest it against', () => {
  const root = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const out = apply(pod(), mutatePod(pod(), { ...config, trust: { root } }).patch) as ReturnType<typeof pod>;
  const env = (out.spec.containers[0] as unknown as { env: { name: string; value?: string }[] }).env;
  assert.equal(env.find((e) => e.name === 'CLOISTER_COORDINATOR_ROOT')?.value, root);
  assert.equal(
    env.find((e) => e.name === 'CLOISTER_COORDINATOR_POLICY'),
    undefined,
  );
});

test('a Confidential Containers pod gets its TEE from the runtime class: configfs-tsm, no EPC, no AESM', () => {
  const coco = { ...config, quoteHelper: true };
  const of = (runtimeClassName: string, extra: Partial<InjectionConfig> = {}) => {
    const p = pod();
    const withClass = { ...p, spec: { ...p.spec, runtimeClassName } };
    const out = apply(withClass, mutatePod(withClass, { ...coco, ...extra }).patch) as {
      spec: {
        containers: { env: { name: string; value?: string }[]; resources?: unknown; volumeMounts?: unknown[] }[];
      };
    };
    const [c] = out.spec.containers;
    const env = Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
    return { env, resources: c?.resources, mounts: c?.volumeMounts ?? [] };
  };
  for (const [cls, tee] of [
    ['kata-qemu-tdx', 'tdx'],
    ['kata-qemu-snp', 'snp'],
    ['kata-cc-isolation', 'snp'],
  ] as const) {
    const r = of(cls);
    assert.equal(r.env['CLOISTER_TEE'], tee, cls);
    assert.equal(r.env['SGX_AESM_ADDR'], undefined, cls);
    assert.equal(r.resources, undefined, cls);
  }
  assert.equal(of('my-tdx-class', { runtimeClasses: { 'my-tdx-class': 'tdx' } }).env['CLOISTER_TEE'], 'tdx');
  // Any other runtime class is an SGX pod as before: EPC and the AESM socket, and no TEE forced.
  const sgx = of('runc');
  assert.equal(sgx.env['CLOISTER_TEE'], undefined);
  assert.equal(sgx.env['SGX_AESM_ADDR'], '1');
  assert.ok(sgx.resources);
});

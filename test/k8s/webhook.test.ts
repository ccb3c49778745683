import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certChain, createCa, issueLeaf, pemCert, pemPrivateKey } from '../../src/pki/index.js';
import { BIN, cloister, freePort, tempDir } from '../e2e/harness.js';
import { scrape } from '../e2e/scrape.js';

/** `cloister webhook` as a process, answering AdmissionReviews over real TLS as the API server sends them. */

const dir = tempDir('webhook');
let child: ChildProcess;
let port: number;
let metrics: string;
let ca: string;

function post(path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A fresh CA and serving certificate in the webhook's files; returns the CA. */
async function writeTls(): Promise<string> {
  const bundle = await createCa({ now: Date.now() / 1000, name: 'webhook test' });
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leaf = await issueLeaf(bundle, {
    publicKey: new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' })),
    commonName: 'webhook',
    ipAddresses: ['127.0.0.1'],
    now: Date.now() / 1000,
  });
  writeFileSync(
    join(dir, 'tls.key'),
    pemPrivateKey(new Uint8Array(keys.privateKey.export({ format: 'der', type: 'pkcs8' }))),
  );
  writeFileSync(join(dir, 'tls.crt'), certChain(bundle, leaf));
  return pemCert(bundle.rootCert);
}

describe('cloister webhook', () => {
  before(async () => {
    ca = await writeTls();
    // Any certificate serves as the coordinator root to hand to pods; this one is at hand.
    writeFileSync(join(dir, 'coordinator-root.pem'), ca);
    port = await freePort();
    metrics = `127.0.0.1:${await freePort()}`;
    child = spawn(process.execPath, [
      BIN,
      'webhook',
      '--coordinator',
      'mesh.cloister:2001',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--listen',
      `127.0.0.1:${port}`,
      '--resources',
      'intel',
      '--epc-mib',
      '16',
      '--coordinator-root',
      join(dir, 'coordinator-root.pem'),
      '--metrics-addr',
      metrics,
    ]);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('"event":"listening"')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`webhook exited ${code}: ${log}`)));
    });
  });
  after(() => child.kill('SIGKILL'));

  it('answers an AdmissionReview v1 with the uid and a JSON patch', async () => {
    const pod = {
      metadata: { name: 'p', labels: { 'cloister.dev/service': 'api' } },
      spec: { containers: [{ name: 'c', image: 'i', command: ['/app'] }] },
    };
    const r = await post(
      '/mutate',
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'abc', kind: { kind: 'Pod' }, object: pod },
      }),
    );
    assert.equal(r.status, 200);
    const response = r.json['response'] as { uid: string; allowed: boolean; patch: string };
    assert.equal(response.uid, 'abc');
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString()) as { path: string; value: unknown }[];
    assert.deepEqual(patch.find((op) => op.path === '/spec/containers/0/resources')?.value, {});
    assert.deepEqual(
      patch.filter((op) => op.path.startsWith('/spec/containers/0/resources/limits/')).map((op) => [op.path, op.value]),
      [
        ['/spec/containers/0/resources/limits/sgx.intel.com~1epc', '16Mi'],
        ['/spec/containers/0/resources/limits/sgx.intel.com~1enclave', '1'],
        ['/spec/containers/0/resources/limits/sgx.intel.com~1provision', '1'],
      ],
    );
    const env = patch.filter((op) => op.path === '/spec/containers/0/env/-').map((op) => op.value);
    assert.deepEqual(
      env.find((e) => (e as { name: string }).name === 'CLOISTER_COORDINATOR_ROOT'),
      { name: 'CLOISTER_COORDINATOR_ROOT', value: readFileSync(join(dir, 'coordinator-root.pem'), 'utf8') },
    );
  });

  it('will not start without saying how pods trust the coordinator', async () => {
    const r = await cloister(['webhook', '--coordinator', 'mesh:2001', '--tls-cert', 'x', '--tls-key', 'y']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--coordinator-root FILE and --coordinator-policy FILE/);
  });

  it('refuses what is not an AdmissionReview with a problem that says why', async () => {
    const r = await post('/mutate', '{"kind":"Pod"}');
    assert.equal(r.status, 400);
    assert.equal(r.json['code'], 'REQUEST_INVALID');
    assert.match(String(r.json['detail']), /AdmissionReview/);
  });

  it('metrics, scraped at --metrics-addr: reviews by result (patched, unchanged, the code of a refusal), build info', async () => {
    const review = (kind: string, object: unknown) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'm', kind: { kind }, object },
      });
    const before = await scrape(metrics);
    const count = (s: typeof before, result: string) => s.value('cloister_admission_reviews_total', { result }) ?? 0;
    const labelled = {
      metadata: { labels: { 'cloister.dev/service': 'api' } },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    };
    assert.equal((await post('/mutate', review('Pod', labelled))).status, 200);
    assert.equal((await post('/mutate', review('Deployment', {}))).status, 200);
    assert.equal((await post('/mutate', '{"kind":"Pod"}')).status, 400);
    const after = await scrape(metrics);
    assert.equal(after.status, 200);
    assert.equal(after.value('cloister_build_info', { component: 'webhook' }), 1);
    for (const result of ['patched', 'unchanged', 'REQUEST_INVALID'])
      assert.equal(count(after, result), count(before, result) + 1, result);
  });

  it('takes a renewed certificate without a restart', async () => {
    const old = ca;
    ca = await writeTls();
    for (let i = 0; i < 100; i++) {
      try {
        if ((await post('/mutate', '{}')).status === 400) break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal((await post('/mutate', '{}')).status, 400);
    ca = old;
    await assert.rejects(post('/mutate', '{}'), /certificate/);
  });
});

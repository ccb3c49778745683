import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { AttestationClient } from '@azure/attestation';
import { importSimState, simQuote } from '../../src/attest/sim/index.js';
import { startCoordinator, tempDir, type RunningCoordinator, pinRoot } from './harness.js';
import { safeValidation } from '../attestation-service/helpers.js';

/** A simulation coordinator started with --maa serves the MAA API on its client address, beside its own API. */

const dir = tempDir('maa-coordinator');
const simDir = join(dir, 'sim');
let c: RunningCoordinator;
let agent: https.Agent;
let instance: string;

before(async () => {
  c = await startCoordinator(join(dir, 'data'), simDir, ['--maa']);
  const rootFile = join(dir, 'root.pem');
  const v = await pinRoot(c, simDir, rootFile);
  assert.equal(v.code, 0, v.stderr);
  agent = new https.Agent({ ca: readFileSync(rootFile, 'utf8'), keepAlive: true });
  instance = `https://${c.client}`;
});

after(async () => {
  agent.destroy();
  await c.stop();
});

function get(path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${instance}${path}`, { method, agent }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test("the SDK attests a simulated quote at the coordinator's client address", async () => {
  const signers = await new AttestationClient(instance, { agent }).getAttestationSigners();
  const client = new AttestationClient(instance, { agent, validationOptions: safeValidation(instance, signers) });
  const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
  const data = Buffer.from('workload key');
  const quote = simQuote(platform, {
    mrEnclave: new Uint8Array(32).fill(1),
    mrSigner: new Uint8Array(32).fill(2),
    isvProdId: 3,
    isvSvn: 4,
    reportData: createHash('sha256').update(data).digest(),
  });
  const { body } = await client.attestSgxEnclave(quote, { runTimeData: data });
  assert.deepEqual([body.issuer, body.mrEnclave, body.productId, body.svn], [instance, '01'.repeat(32), 3, 4]);
});

test('each API answers errors in its own shape', async () => {
  const maa = await get('/attest/SgxEnclave?api-version=2020-10-01', 'POST');
  assert.deepEqual(
    [maa.status, maa.type, (JSON.parse(maa.body) as { error: { code: string } }).error.code],
    [400, 'application/json', 'REQUEST_INVALID'],
  );
  const own = await get('/api/v1/nope');
  assert.deepEqual([own.status, own.type], [404, 'application/problem+json']);
  assert.equal((await get('/api/v1/status')).status, 200);
});

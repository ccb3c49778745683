import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AttestationClient } from '@azure/attestation';
import { parseJwks, verifyMaaTokenSync } from '../../src/attest/index.js';
import { simQuote } from '../../src/attest/sim/index.js';
import {
  openEnclaveReport,
  safeValidation,
  sdkClient,
  serveSimulation,
  serveVector,
  vectorFile,
  vectorJson,
  type Running,
} from './helpers.js';

/**
 * Microsoft's own client, `@azure/attestation` 1.0.0, unmodified, against a real cloister
 * attestation service over HTTPS: real SGX vectors at their own time and simulated quotes on the
 * real clock, binary and JSON runtime data, each refusal as an MAA error with a clear code, and
 * key rotation.
 */

interface SgxExpected {
  report: { mrenclave: string; mrsigner: string; isvprodid: number; isvsvn: number; debug: boolean };
  expected: { tcb_status: string; advisory_ids: string[] | null };
}

/** The MAA error an SDK call fails with: its HTTP status and the service's error code. */
async function maaError(
  call: Promise<unknown>,
): Promise<{ status: number | undefined; code: string | undefined; message: string }> {
  try {
    await call;
  } catch (e) {
    const r = e as { statusCode?: number; code?: string; message: string };
    return { status: r.statusCode, code: r.code, message: r.message };
  }
  assert.fail('expected the attestation to be refused');
}

const REAL = [
  ['sgx/phala-sgx-v3-processor-00a067110000', false],
  ['sgx/automata-sgx-v3-debug-00a067110000', true],
  ['sgx/automata-sgx-v3-platform-00606a000000-tcbinfo-v3', false],
] as const;

for (const [name, debug] of REAL) {
  describe(`real vector ${name}`, () => {
    const e = vectorJson<SgxExpected>(`${name}/expected.json`);
    const quote = new Uint8Array(vectorFile(`${name}/quote.bin`));
    let r: Running & { at: number };
    before(async () => {
      r = await serveVector(name, {
        acceptedTcbStatuses: [e.expected.tcb_status as 'UpToDate'],
        acceptedAdvisories: e.expected.advisory_ids ?? [],
        allowDebug: debug,
      });
    });
    after(() => r.close());

    for (const method of ['attestSgxEnclave', 'attestOpenEnclave'] as const) {
      test(`${method}: the token says what the quote says`, async () => {
        // Tokens are stamped at the vector's time, so the SDK's wall-clock checks are off; cloister checks the times below.
        const { client } = await sdkClient(r, false);
        const evidence = method === 'attestSgxEnclave' ? quote : openEnclaveReport(quote);
        const { body, token } = await client[method](evidence);
        assert.deepEqual(
          [body.mrEnclave, body.mrSigner, body.productId, body.svn, body.isDebuggable],
          [e.report.mrenclave, e.report.mrsigner, e.report.isvprodid, e.report.isvsvn, e.report.debug],
        );
        assert.equal(body.issuer, r.instance);
        assert.equal(body.verifierType, 'sgx');
        assert.equal(body.enclaveHeldData, undefined);
        assert.equal(
          (body.sgxCollateral as Record<string, unknown> | undefined)?.['quotehash'],
          createHash('sha256').update(quote).digest('hex'),
        );
        const verdict = verifyMaaTokenSync(token.serialize(), {
          jwks: parseJwks(r.service.jwks()),
          now: r.at,
          issuer: r.instance,
        });
        assert.equal(verdict.tcbStatus, e.expected.tcb_status);
        assert.equal(verdict.claims['mrenclave'], e.report.mrenclave);
      });
    }
  });
}

describe('real vector refused by policy', () => {
  test('an unaccepted TCB status and a debug enclave under a no-debug policy are MAA errors', async () => {
    const phala = await serveVector('sgx/phala-sgx-v3-processor-00a067110000', { acceptedTcbStatuses: ['UpToDate'] });
    const advisories =
      vectorJson<SgxExpected>('sgx/automata-sgx-v3-debug-00a067110000/expected.json').expected.advisory_ids ?? [];
    const debug = await serveVector('sgx/automata-sgx-v3-debug-00a067110000', {
      acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'],
      acceptedAdvisories: advisories,
    });
    try {
      const tcb = await maaError(
        new AttestationClient(phala.instance, { agent: phala.agent }).attestSgxEnclave(
          vectorFile('sgx/phala-sgx-v3-processor-00a067110000/quote.bin'),
        ),
      );
      assert.deepEqual([tcb.status, tcb.code], [400, 'POLICY_VIOLATION']);
      assert.match(tcb.message, /^tcbStatus: ConfigurationAndSWHardeningNeeded is not among the accepted statuses/);
      const dbg = await maaError(
        new AttestationClient(debug.instance, { agent: debug.agent }).attestSgxEnclave(
          vectorFile('sgx/automata-sgx-v3-debug-00a067110000/quote.bin'),
        ),
      );
      assert.deepEqual([dbg.status, dbg.code], [400, 'POLICY_VIOLATION']);
      assert.match(dbg.message, /^claims\.debug:/);
    } finally {
      await phala.close();
      await debug.close();
    }
  });
});

describe('simulated quotes on the real clock, full SDK validation', () => {
  const mrEnclave = new Uint8Array(32).fill(0xab);
  const mrSigner = new Uint8Array(32).fill(0xcd);
  let r: Running & { platform: Parameters<typeof simQuote>[0] };
  const quote = (reportData?: Uint8Array, debug = false) =>
    simQuote(r.platform, {
      mrEnclave,
      mrSigner,
      isvProdId: 7,
      isvSvn: 3,
      debug,
      ...(reportData ? { reportData } : {}),
    });
  const sha256 = (data: Uint8Array | string) => new Uint8Array(createHash('sha256').update(data).digest());
  before(async () => {
    r = await serveSimulation({});
  });
  after(() => r.close());

  test('binary runtime data: bound by the report data, returned as the enclave held data', async () => {
    const { client } = await sdkClient(r);
    const data = new Uint8Array(Buffer.from('a public key, say'));
    const { body } = await client.attestSgxEnclave(quote(sha256(data)), { runTimeData: data });
    assert.deepEqual(
      [body.mrEnclave, body.mrSigner, body.productId, body.svn, body.isDebuggable],
      ['ab'.repeat(32), 'cd'.repeat(32), 7, 3, false],
    );
    assert.deepEqual(Buffer.from(body.enclaveHeldData ?? []), Buffer.from(data));
    assert.equal(body.runTimeClaims, undefined);
    assert.equal(body.issuer, r.instance);
    assert.equal(body.version, '1.0');
  });

  test('JSON runtime data through attestOpenEnclave: returned as the runtime claims', async () => {
    const { client } = await sdkClient(r);
    const json = { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, n: 1 };
    const data = new Uint8Array(Buffer.from(JSON.stringify(json)));
    const { body } = await client.attestOpenEnclave(openEnclaveReport(quote(sha256(data))), { runTimeJson: data });
    assert.deepEqual(body.runTimeClaims, json);
    assert.equal(body.mrEnclave, 'ab'.repeat(32));
  });

  test('a quote whose report data does not bind the runtime data: RUNTIME_DATA_MISMATCH', async () => {
    const { client } = await sdkClient(r);
    const e = await maaError(
      client.attestSgxEnclave(quote(sha256('other data')), { runTimeData: new Uint8Array([1, 2, 3]) }),
    );
    assert.deepEqual([e.status, e.code], [400, 'RUNTIME_DATA_MISMATCH']);
  });

  test('JSON init-time data bound by the config id: returned as the init-time claims; unbound: INIT_TIME_DATA_MISMATCH', async () => {
    const { client } = await sdkClient(r);
    const init = new Uint8Array(Buffer.from('{"config":"v1"}'));
    const bound = simQuote(r.platform, { mrEnclave, mrSigner, isvProdId: 7, isvSvn: 3, configId: sha256(init) });
    assert.deepEqual((await client.attestSgxEnclave(bound, { initTimeJson: init })).body.initTimeClaims, {
      config: 'v1',
    });
    const e = await maaError(client.attestSgxEnclave(quote(), { initTimeData: new Uint8Array([1]) }));
    assert.deepEqual([e.status, e.code], [400, 'INIT_TIME_DATA_MISMATCH']);
  });

  test('a tampered quote: QUOTE_SIGNATURE_INVALID', async () => {
    const { client } = await sdkClient(r);
    const q = quote();
    q[48 + 64] = (q[48 + 64] as number) ^ 1; // a byte of MRENCLAVE, in the signed body
    const e = await maaError(client.attestSgxEnclave(q));
    assert.deepEqual([e.status, e.code], [400, 'QUOTE_SIGNATURE_INVALID']);
  });

  test('a debug enclave under the default (no-debug) policy: POLICY_VIOLATION', async () => {
    const { client } = await sdkClient(r);
    const e = await maaError(client.attestSgxEnclave(quote(undefined, true)));
    assert.deepEqual([e.status, e.code], [400, 'POLICY_VIOLATION']);
    assert.match(e.message, /debug/);
  });

  test('an unaccepted TCB status: POLICY_VIOLATION', async () => {
    const old = await serveSimulation({}, 'OutOfDate');
    try {
      const q = simQuote(old.platform, { mrEnclave, mrSigner, isvProdId: 7, isvSvn: 3 });
      const e = await maaError(new AttestationClient(old.instance, { agent: old.agent }).attestSgxEnclave(q));
      assert.deepEqual([e.status, e.code], [400, 'POLICY_VIOLATION']);
      assert.match(e.message, /^tcbStatus: OutOfDate/);
    } finally {
      await old.close();
    }
  });

  test('after a key rotation, a new client verifies new tokens; a client pinned to the old /certs refuses them; old tokens still verify', async () => {
    const before = await sdkClient(r);
    const old = await before.client.attestSgxEnclave(quote());
    const kid = await r.service.rotate();
    assert.equal(r.service.jwks().keys.length, 2);
    // The stale client cached the old /certs: it has no certificate for the new kid and refuses
    // the token (SDK 1.0.0 fails inside its verifier with a TypeError rather than a message).
    const stale = await maaError(before.client.attestSgxEnclave(quote()));
    assert.equal(stale.status, undefined);
    const after = await sdkClient(r);
    assert.ok(after.signers.some((s) => s.keyId === kid));
    const fresh = await after.client.attestSgxEnclave(quote());
    assert.equal(fresh.token.keyId, kid);
    const jwks = parseJwks(r.service.jwks());
    for (const t of [old.token, fresh.token])
      assert.equal(
        verifyMaaTokenSync(t.serialize(), { jwks, now: Date.now() / 1000, issuer: r.instance }).claims['mrenclave'],
        'ab'.repeat(32),
      );
  });

  test('the documented validation refuses what the SDK alone accepts: alg none, a certificate carried in the token', () => {
    const none = { algorithm: 'none' } as Parameters<
      NonNullable<ReturnType<typeof safeValidation>['validateAttestationToken']>
    >[0];
    const check = safeValidation(r.instance, [])['validateAttestationToken'];
    assert.deepEqual(check?.(none, undefined), ['algorithm none is not RS256']);
    const rs = { algorithm: 'RS256' } as typeof none;
    assert.equal(check?.(rs, { keyId: 'x', certificates: ['-----BEGIN CERTIFICATE-----'] })?.length, 1);
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DcapVerifier } from '../../../src/attest/dcap/verify.js';
import { customRoot } from '../../../src/attest/dcap/root.js';
import { parseCrl } from '../../../src/attest/lib/x509.js';
import {
  createSimPlatform,
  simCollateral,
  simQuote,
  type SimCollateralOptions,
  type SimPlatform,
} from '../../../src/attest/sim/index.js';

const NOW = 1_750_000_000;
const DAY = 86_400;

describe('simCollateral', () => {
  let p: SimPlatform;
  let verifier: DcapVerifier;
  let quote: Uint8Array;
  /** Verifies the SGX quote with collateral made with `options` (SGX, issued at NOW unless given). */
  const verify = async (options: Partial<SimCollateralOptions>, now = NOW + 60) =>
    verifier.verify(quote, {
      now,
      collateral: verifier.prepare(await simCollateral(p, { now: NOW, tee: 'sgx', ...options })),
    });

  before(async () => {
    p = await createSimPlatform({ now: NOW - 90 * DAY });
    verifier = new DcapVerifier(customRoot(p.root.cert.der));
    quote = simQuote(p, { mrEnclave: new Uint8Array(32), mrSigner: new Uint8Array(32), isvProdId: 0, isvSvn: 0 });
  });

  it('issues v2 CRLs with a 30-day window, listing the PCK certificate on request', async () => {
    const c = await simCollateral(p, { now: NOW, tee: 'sgx', revokePck: true });
    const pckCrl = parseCrl(Buffer.from(c.pck_crl, 'hex'));
    assert.deepEqual([...pckCrl.revoked], [p.pck.cert.serial]);
    assert.deepEqual([pckCrl.thisUpdate, pckCrl.nextUpdate], [NOW - 3600, NOW - 3600 + 30 * DAY]);
    assert.equal(parseCrl(Buffer.from(c.root_ca_crl, 'hex')).revoked.size, 0);
  });

  it('a revoked PCK certificate: CERT_REVOKED', async () => {
    await assert.rejects(verify({ revokePck: true }), { code: 'CERT_REVOKED' });
  });

  it('stale collateral: expired', async () => {
    await assert.rejects(
      verify({ stale: true }),
      (e: { code?: string }) => e.code === 'COLLATERAL_EXPIRED' || e.code === 'CRL_EXPIRED',
    );
  });

  it('TDX collateral for an SGX quote: COLLATERAL_MISMATCH', async () => {
    await assert.rejects(verify({ tee: 'tdx' }), { code: 'COLLATERAL_MISMATCH' });
  });

  it('sets the status of the platform level, with its advisory', async () => {
    const v = await verify({ tcbStatus: 'OutOfDate' });
    assert.equal(v.tcbStatus, 'OutOfDate');
    assert.deepEqual(v.advisoryIds, ['INTEL-SA-00000']);
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { QuoteVerifier } from '@phala/dcap-qvl';
import { DcapVerifier } from '../../../src/attest/dcap/verify.js';
import { customRoot } from '../../../src/attest/dcap/root.js';
import {
  createSimPlatform,
  simCollateral,
  simQuote,
  type SimPlatform,
  type SimSgxQuoteOptions,
} from '../../../src/attest/sim/index.js';

const NOW = 1_750_000_000;
const at = NOW + 60;
const fill = (n: number, byte: number) => new Uint8Array(n).fill(byte);
const sgx: SimSgxQuoteOptions = {
  mrEnclave: fill(32, 0xe1),
  mrSigner: fill(32, 0x51),
  isvProdId: 7,
  isvSvn: 3,
  reportData: Buffer.from('nonce'),
  debug: true,
};
const tdx = {
  tee: 'tdx',
  mrTd: fill(48, 0x7d),
  rtmr: [fill(48, 0x10), fill(48, 0x11)],
  reportData: fill(64, 0xaa),
} as const;

describe('simQuote', () => {
  let p: SimPlatform;
  let verifier: DcapVerifier;
  before(async () => {
    p = await createSimPlatform({ now: NOW });
    verifier = new DcapVerifier(customRoot(p.root.cert.der));
  });

  it('writes an SGX quote v3 that DcapVerifier accepts, with claims from the inputs', async () => {
    const v = verifier.verify(simQuote(p, sgx), {
      now: at,
      collateral: verifier.prepare(await simCollateral(p, { now: NOW, tee: 'sgx' })),
    });
    assert.equal(v.tee, 'sgx');
    assert.equal(v.tcbStatus, 'UpToDate');
    assert.equal(v.simulation, true);
    assert.deepEqual(v.advisoryIds, []);
    assert.deepEqual(
      {
        mrenclave: v.claims['mrenclave'],
        mrsigner: v.claims['mrsigner'],
        isvProdId: v.claims['isvProdId'],
        isvSvn: v.claims['isvSvn'],
        debug: v.claims['debug'],
        reportData: v.claims['reportData'],
        quoteVersion: v.claims['quoteVersion'],
        fmspc: v.claims['fmspc'],
      },
      {
        mrenclave: 'e1'.repeat(32),
        mrsigner: '51'.repeat(32),
        isvProdId: 7,
        isvSvn: 3,
        debug: true,
        reportData: Buffer.from('nonce').toString('hex').padEnd(128, '0'),
        quoteVersion: 3,
        fmspc: '5eed00000000',
      },
    );
  });

  it('writes a TDX quote v4 (TD 1.0 body) that DcapVerifier accepts, with claims from the inputs', async () => {
    const v = verifier.verify(simQuote(p, tdx), {
      now: at,
      collateral: verifier.prepare(await simCollateral(p, { now: NOW, tee: 'tdx' })),
    });
    assert.equal(v.tee, 'tdx');
    assert.equal(v.tcbStatus, 'UpToDate');
    assert.equal(v.simulation, true);
    assert.deepEqual(
      {
        mrtd: v.claims['mrtd'],
        rtmr0: v.claims['rtmr0'],
        rtmr1: v.claims['rtmr1'],
        rtmr2: v.claims['rtmr2'],
        debug: v.claims['debug'],
        reportData: v.claims['reportData'],
        quoteVersion: v.claims['quoteVersion'],
      },
      {
        mrtd: '7d'.repeat(48),
        rtmr0: '10'.repeat(48),
        rtmr1: '11'.repeat(48),
        rtmr2: '00'.repeat(48),
        debug: false,
        reportData: 'aa'.repeat(64),
        quoteVersion: 4,
      },
    );
  });

  it('is accepted by an independent verifier (Phala dcap-qvl) with the simulation root', async () => {
    const qvl = QuoteVerifier.newWithRootCa(Buffer.from(p.root.cert.der));
    // dcap-qvl refuses debug enclaves outright.
    for (const [tee, options] of [
      ['sgx', { ...sgx, debug: false }],
      ['tdx', tdx],
    ] as const) {
      assert.equal(
        qvl.verify(simQuote(p, options), await simCollateral(p, { now: NOW, tee }), at).status,
        'UpToDate',
        tee,
      );
    }
  });

  it('is refused by the Intel-rooted verifier: UNTRUSTED_ROOT', () => {
    assert.throws(() => new DcapVerifier().verify(simQuote(p, sgx), { now: at }), { code: 'UNTRUSTED_ROOT' });
  });

  it('refuses out-of-range inputs with USAGE naming the field', () => {
    for (const [options, field] of [
      [{ ...sgx, reportData: fill(65, 0) }, 'reportData'],
      [{ ...sgx, mrEnclave: fill(31, 0) }, 'mrEnclave'],
      [{ ...sgx, isvSvn: 0x10000 }, 'isvSvn'],
      [{ ...tdx, rtmr: [fill(47, 0)] }, 'rtmr[0]'],
    ] as const) {
      assert.throws(() => simQuote(p, options), { code: 'USAGE', field });
    }
  });
});

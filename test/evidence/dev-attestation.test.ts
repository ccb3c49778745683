import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DcapVerifier, customRoot, parseQuote } from '../../src/attest/index.js';
import { importSimState, simCollateral } from '../../src/attest/sim/index.js';
import { CloisterError } from '../../src/lib/errors.js';
import { hex } from '../../src/lib/bytes.js';
import { attestationType, devAttestationProvider } from '../../src/evidence/index.js';
import { tempDir } from '../e2e/harness.js';
import { quoteBytes } from '../attest/dcap/helpers.js';
import { startEmulator, type Emulator } from './emulator.js';

/**
 * The /dev/attestation provider (Gramine, Occlum) against an emulated folder served by a real
 * helper process: quotes over the report data, serialised requests, the attestation type, a
 * missing folder, and byte compatibility with a real Occlum quote.
 */

const dir = tempDir('dev-attestation');
const simDir = join(dir, 'sim');
const OCCLUM = 'sgx/trustee-occlum-sgx-v3-debug-00606a000000';

function throwsCode(fn: () => unknown, code: string): CloisterError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CloisterError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('/dev/attestation provider', () => {
  const emulators: Emulator[] = [];
  let sgx: Emulator;
  before(async () => {
    sgx = await startEmulator(['--sim-dir', simDir, '--dev-attestation', join(dir, 'dcap')]);
    writeFileSync(join(dir, 'occlum.bin'), quoteBytes(OCCLUM));
    emulators.push(
      sgx,
      await startEmulator([
        '--sim-dir',
        simDir,
        '--dev-attestation',
        join(dir, 'occlum'),
        '--quote',
        join(dir, 'occlum.bin'),
      ]),
    );
  });
  after(() => Promise.all(emulators.map((e) => e.stop())));

  it('concurrent requests are serialised: each quote carries its own report data', async () => {
    assert.equal(attestationType(join(dir, 'dcap')), 'dcap');
    const provider = devAttestationProvider(join(dir, 'dcap'));
    assert.equal(provider.tee, 'sgx');
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
    const now = Date.now() / 1000;
    const collateral = verifier.prepare(await simCollateral(platform, { now, tee: 'sgx' }));
    const data = [0, 1, 2, 3].map(() => new Uint8Array(randomBytes(64)));
    const quotes = await Promise.all(data.map((d) => provider.quote(d)));
    quotes.forEach((quote, i) => {
      const verdict = verifier.verify(quote, { collateral, now, tee: 'sgx' });
      assert.equal(verdict.claims['reportData'], hex(data[i] as Uint8Array));
      assert.equal(verdict.claims['mrenclave'], sgx.identity['mrenclave']);
    });
  });

  it("a real Occlum enclave's quote passes through byte for byte", async () => {
    const quote = await devAttestationProvider(join(dir, 'occlum')).quote(new Uint8Array(64));
    assert.deepEqual(quote, quoteBytes(OCCLUM));
    assert.equal(parseQuote(quote).header.version, 3);
  });

  it('outside a library OS: EVIDENCE_UNAVAILABLE naming attestation_type', () => {
    const e = throwsCode(() => devAttestationProvider(join(dir, 'nowhere')), 'EVIDENCE_UNAVAILABLE');
    assert.equal(e.path, join(dir, 'nowhere', 'attestation_type'));
  });

  it('a library OS without DCAP attestation is refused (EVIDENCE_INVALID)', () => {
    // A folder whose attestation_type says epid, as Gramine's with sgx.remote_attestation = "epid".
    const epid = join(dir, 'epid');
    mkdirSync(epid);
    writeFileSync(join(epid, 'attestation_type'), 'epid\n');
    throwsCode(() => devAttestationProvider(epid), 'EVIDENCE_INVALID');
  });

  it('report data of another size is refused', async () => {
    await assert.rejects(devAttestationProvider(join(dir, 'dcap')).quote(new Uint8Array(63)), /64 bytes/);
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DcapVerifier, SnpVerifier, customRoot, encodeCertTable, splitSnpEvidence } from '../../src/attest/index.js';
import { importSimState, importSimSnpState, simCollateral } from '../../src/attest/sim/index.js';
import { pemCertificates } from '../../src/attest/lib/x509.js';
import { CloisterError } from '../../src/lib/errors.js';
import { hex } from '../../src/lib/bytes.js';
import { tsmProvider, tsmReport } from '../../src/evidence/index.js';
import { cloister, tempDir } from '../e2e/harness.js';
import { collateralJson, quoteBytes, verifyAt, TDX_V4 } from '../attest/dcap/helpers.js';
import { MILAN, bytes, expectedOf, text } from '../attest/snp/helpers.js';
import { startEmulator, type Emulator } from './emulator.js';

/**
 * The configfs-tsm provider against an emulated tree served by a real helper process: requests,
 * the generation check, privlevel, the certificate table, missing interfaces, and byte
 * compatibility with the evidence of real TDX and SEV-SNP platforms.
 */

const dir = tempDir('tsm');
const simDir = join(dir, 'sim');
const now = () => Date.now() / 1000;
const reportData = () => new Uint8Array(randomBytes(64));

async function rejects(promise: Promise<unknown>, code: string): Promise<CloisterError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof CloisterError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('configfs-tsm provider', () => {
  const emulators: Emulator[] = [];
  const emulate = async (name: string, args: string[]) => {
    const e = await startEmulator(['--sim-dir', simDir, '--tsm-root', join(dir, name), ...args]);
    emulators.push(e);
    return e;
  };
  let tdx: Emulator;
  let snp: Emulator;
  before(async () => {
    // One after the other: the first makes the simulated platform they share.
    tdx = await emulate('tdx', ['--provider', 'tdx']);
    snp = await emulate('snp', ['--provider', 'snp']);
  });
  after(() => Promise.all(emulators.map((e) => e.stop())));

  it('a TDX quote whose REPORTDATA is the inblob, verified as TDX by the DCAP verifier', async () => {
    const provider = await tsmProvider({ root: join(dir, 'tdx') });
    assert.equal(provider.tee, 'tdx');
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
    const collateral = verifier.prepare(await simCollateral(platform, { now: now(), tee: 'tdx' }));
    for (const data of [reportData(), reportData()]) {
      const verdict = verifier.verify(await provider.quote(data), { collateral, now: now(), tee: 'tdx' });
      assert.equal(verdict.claims['reportData'], hex(data));
      assert.equal(verdict.claims['mrtd'], tdx.identity['mrtd']);
      assert.equal(verdict.simulation, true);
    }
  });

  it('each request counts its own writes: generation is the writes made to a fresh entry', async () => {
    const report = await tsmReport(reportData(), { root: join(dir, 'snp'), privlevel: 0 });
    assert.equal(report.provider, 'sev_guest');
    assert.equal(report.generation, 2); // privlevel, then inblob
    assert.equal((await tsmReport(reportData(), { root: join(dir, 'tdx') })).generation, 1);
  });

  it('an SEV-SNP report at the requested VMPL, with the host certificate table, verified without a KDS fetch', async () => {
    const provider = await tsmProvider({ root: join(dir, 'snp'), privlevel: 2 });
    assert.equal(provider.tee, 'snp');
    const data = reportData();
    const { report, certs } = splitSnpEvidence(await provider.quote(data));
    assert.ok(certs.vcek && certs.ask && certs.ark, 'the auxblob carries VCEK, ASK and ARK');
    const sim = importSimSnpState(JSON.parse(readFileSync(join(simDir, 'snp.json'), 'utf8')));
    const verdict = new SnpVerifier({ roots: { Milan: sim.ark.der } }).verify(report, certs, { now: now() });
    assert.equal(verdict.claims['reportData'], hex(data));
    assert.equal(verdict.claims['vmpl'], 2);
    assert.equal(verdict.claims['measurement'], snp.identity['measurement']);
    // AMD's pinned ARK does not anchor the simulated chain.
    assert.throws(() => new SnpVerifier().verify(report, certs, { now: now() }), /UNTRUSTED_ROOT|ARK/);
  });

  it('a privlevel below privlevel_floor or above 3 is refused before anything is written', async () => {
    await rejects(tsmReport(reportData(), { root: join(dir, 'snp'), privlevel: 4 }), 'USAGE');
  });

  it('a concurrent writer is detected by the generation (EVIDENCE_CONCURRENT)', async () => {
    await emulate('racy', ['--provider', 'tdx', '--concurrent-writer']);
    const provider = await tsmProvider({ root: join(dir, 'racy') });
    const e = await rejects(provider.quote(reportData()), 'EVIDENCE_CONCURRENT');
    assert.equal(e.expected, 1);
    assert.equal(e.actual, 2);
  });

  it('a missing interface is EVIDENCE_UNAVAILABLE naming the path', async () => {
    const missing = join(dir, 'no-such-tsm');
    const e = await rejects(tsmProvider({ root: missing }), 'EVIDENCE_UNAVAILABLE');
    assert.equal(e.path, join(missing, 'report'));
    assert.match(e.message, /configfs-tsm/);
  });

  it('report data of another size is refused', async () => {
    const provider = await tsmProvider({ root: join(dir, 'tdx') });
    await rejects(provider.quote(new Uint8Array(32)), 'USAGE');
  });

  it("a real TDX platform's quote passes through byte for byte and verifies to Intel's root", async () => {
    const quote = quoteBytes(TDX_V4);
    writeFileSync(join(dir, 'tdx-vector.bin'), quote);
    await emulate('tdx-vector', ['--provider', 'tdx', '--outblob', join(dir, 'tdx-vector.bin')]);
    const provider = await tsmProvider({ root: join(dir, 'tdx-vector') });
    const evidence = await provider.quote(reportData());
    assert.deepEqual(evidence, quote);
    const verifier = new DcapVerifier();
    const verdict = verifier.verify(evidence, {
      collateral: verifier.prepare(collateralJson(TDX_V4)),
      now: verifyAt(TDX_V4),
      tee: 'tdx',
    });
    assert.equal(verdict.simulation, false);
  });

  it("a real SEV-SNP platform's report with its certificate table verifies to AMD's pinned ARK", async () => {
    const der = (pem: string) => pemCertificates(pem, 'vector')[0] as Uint8Array;
    const table = encodeCertTable({
      vcek: bytes(`${MILAN}/vcek.der`),
      ask: der(text(`${MILAN}/ask.pem`)),
      ark: der(text(`${MILAN}/ark.pem`)),
    });
    writeFileSync(join(dir, 'snp-report.bin'), bytes(`${MILAN}/report.bin`));
    writeFileSync(join(dir, 'snp-table.bin'), table);
    await emulate('snp-vector', [
      '--provider',
      'snp',
      '--outblob',
      join(dir, 'snp-report.bin'),
      '--auxblob',
      join(dir, 'snp-table.bin'),
    ]);
    const provider = await tsmProvider({ root: join(dir, 'snp-vector') });
    const evidence = await provider.quote(reportData());
    const { report, certs } = splitSnpEvidence(evidence);
    assert.deepEqual(report, bytes(`${MILAN}/report.bin`));
    const verdict = new SnpVerifier().verify(report, certs, { now: expectedOf(MILAN).verify_at_unix });
    assert.equal(verdict.simulation, false);
    // `cloister attest verify` takes the provider's output as it is: the table stands in for --certs.
    writeFileSync(join(dir, 'snp-evidence.bin'), evidence);
    const at = String(expectedOf(MILAN).verify_at_unix);
    const cli = await cloister(['attest', 'verify', join(dir, 'snp-evidence.bin'), '--at', at, '--json']);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as { tee: string }).tee, 'snp');
  });
});

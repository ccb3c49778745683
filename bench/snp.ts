import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SnpVerifier } from '../src/attest/index.js';

/**
 * SEV-SNP report verifications per second on one core for cloister and for @tinfoilsh/verifier,
 * on the Genoa vector (snp/trustee-azure-genoa-vcek), in the same run. Each iteration parses the
 * report and checks its P-384 signature, its CHIP_ID and REPORTED_TCB against the VCEK; cloister
 * caches the time-free checks of the VCEK → ASK → ARK chain (the peer re-verifies it every time,
 * which is what it does when used). The peer's SNP pieces are not exported from its package root,
 * so they are loaded from its dist files.
 */

interface PeerReport {
  reportedTcb: bigint;
  chipId: Uint8Array;
}
interface PeerChain {
  validateVcekTcb(tcb: unknown): void;
  validateVcekHwid(chipId: Uint8Array): void;
}
interface Peer {
  Report: new (data: Uint8Array) => PeerReport;
  CertificateChain: { fromReport(report: PeerReport, vcekDer: Uint8Array): Promise<PeerChain> };
  verifyAttestation(chain: PeerChain, report: PeerReport): Promise<boolean>;
  tcbFromInt(tcb: bigint): unknown;
}

const VECTOR = fileURLToPath(new URL('../../test/vectors/snp/trustee-azure-genoa-vcek/', import.meta.url));

async function loadPeer(): Promise<Peer> {
  const sev = join(dirname(createRequire(import.meta.url).resolve('@tinfoilsh/verifier')), 'sev');
  const load = async (file: string) => (await import(pathToFileURL(join(sev, file)).href)) as Record<string, unknown>;
  const [report, chain, verify, utils] = await Promise.all(
    ['report.js', 'cert-chain.js', 'verify.js', 'utils.js'].map(load),
  );
  return {
    Report: report?.['Report'],
    CertificateChain: chain?.['CertificateChain'],
    verifyAttestation: verify?.['verifyAttestation'],
    tcbFromInt: utils?.['tcbFromInt'],
  } as Peer;
}

/** Calls per second of `fn` over `seconds`, after a warm-up; `fn` may be async. */
export async function rate(fn: () => unknown, seconds: number): Promise<number> {
  // A synchronous `fn` is not awaited, so that no microtask is counted against it.
  const call = async () => {
    const result = fn();
    if (result instanceof Promise) await result;
  };
  for (let i = 0; i < 20; i++) await call();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 10; i++) await call();
    n += 10;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

/**
 * Prints cloister's and the peer's SNP verifications per second and their ratio.
 *
 * @example
 * ```ts
 * await benchSnp(Number(process.env['BENCH_SECONDS'] ?? 3));
 * ```
 */
export async function benchSnp(seconds: number): Promise<{ cloister: number; peer: number }> {
  const report = new Uint8Array(readFileSync(join(VECTOR, 'report.bin')));
  const vcek = new Uint8Array(readFileSync(join(VECTOR, 'vcek.der')));
  const certs = {
    vcek,
    ask: readFileSync(join(VECTOR, 'ask.pem'), 'utf8'),
    ark: readFileSync(join(VECTOR, 'ark.pem'), 'utf8'),
  };
  const now = (JSON.parse(readFileSync(join(VECTOR, 'expected.json'), 'utf8')) as { verify_at_unix: number })
    .verify_at_unix;

  const verifier = new SnpVerifier();
  const ours = () => verifier.verify(report, certs, { now });
  const peer = await loadPeer();
  const theirs = async () => {
    const r = new peer.Report(report);
    const chain = await peer.CertificateChain.fromReport(r, vcek);
    if (!(await peer.verifyAttestation(chain, r))) throw new Error('peer: verification failed');
    chain.validateVcekTcb(peer.tcbFromInt(r.reportedTcb));
    chain.validateVcekHwid(r.chipId);
  };
  // Both accept the vector before anything is timed.
  ours();
  await theirs();

  const a = await rate(ours, seconds);
  const b = await rate(theirs, seconds);
  console.log(`\nSEV-SNP report verification (Genoa, VCEK), one core, ${seconds} s per measurement\n`);
  console.log('vector    cloister/s  @tinfoilsh/verifier/s   ratio');
  console.log(
    `${'Genoa'.padEnd(8)} ${a.toFixed(0).padStart(11)} ${b.toFixed(0).padStart(22)} ${(a / b).toFixed(1).padStart(7)}x`,
  );
  return { cloister: a, peer: b };
}

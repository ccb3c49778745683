import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DcapVerifier, parseQuote } from '../src/attest/index.js';
import { benchActivation } from './activation.js';
import { benchSnp } from './snp.js';
import { benchProtect } from './protect.js';
import { benchProtectCli } from './protect-cli.js';
import { benchMaa } from './maa.js';
import { benchEvidence } from './evidence.js';

/**
 * `npm run bench`: DCAP quote verifications per second on one core (this process's main
 * thread) for cloister and for @phala/dcap-qvl, on real SGX and TDX vectors at their own time.
 *
 * Every cloister call parses the quote, checks both of its P-256 signatures (QE report by the
 * PCK key, quote by the attestation key) and the QE report binding, the validity times of the
 * PCK chain and of the collateral, revocation, and evaluates the TCB. What is reused between
 * calls, in the warm rows (one quote repeated, one verifier):
 * - the prepared collateral (`verifier.prepare`, once per vector): TCB info and QE identity
 *   parsed, their signatures, the three issuer chains to the root and both CRLs' signatures
 *   verified;
 * - the verifier's cache of PCK chains by their bytes (LRU, 256): the chain in the quote parsed,
 *   its signatures up to the root verified, its SGX extensions parsed;
 * - the verifier's cache of attestation keys by their bytes (LRU, 1024): the parsed P-256 key;
 * - the Intel root certificate, parsed once per process.
 * The rotation rows turn over six quotes from six platforms (each its own PCK chain and FMSPC,
 * SGX processor and platform CA, TDX v4 and v5) with a new verifier per quote, so no PCK chain
 * or key is reused: "fresh chain" keeps the collateral prepared once per platform (a coordinator
 * holds it until nextUpdate), "nothing reused" also prepares the collateral on every call. The
 * peer caches nothing: every call parses the collateral and verifies its signatures and every
 * chain (it checks neither CRL signatures nor CRL dates), so its rotation figure, measured once
 * over the same quotes, stands beside both rotation rows.
 */

interface PeerModule {
  verify(quote: Uint8Array, collateral: unknown, now: number): { status: string };
}

const VECTORS = fileURLToPath(new URL('../../test/vectors/', import.meta.url));
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
/** `BENCH_ONLY=dcap,snp,protect,protect-cli,activation,maa,evidence` runs some sections only. */
const only = process.env['BENCH_ONLY']?.split(',');
const runs = (section: string) => !only || only.includes(section);
const peer = createRequire(import.meta.url)('@phala/dcap-qvl') as PeerModule;

function rate(fn: () => unknown, seconds: number): number {
  for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

/** Vectors verified warm, one at a time. */
const cases = [
  ['SGX v3', 'sgx/phala-sgx-v3-processor-00a067110000'],
  ['TDX v4', 'tdx/phala-tdx-v4-b0c06f000000-uptodate'],
  ['TDX v5', 'tdx/gotdx-tdx-v5-90c06f000000'],
] as const;
/** Six platforms, each with its own PCK chain and FMSPC, that both verifiers accept. */
const rotation = [
  'sgx/phala-sgx-v3-processor-00a067110000',
  'sgx/automata-sgx-v3-platform-00606a000000-tcbinfo-v3',
  'tdx/phala-tdx-v4-b0c06f000000-uptodate',
  'tdx/automata-tdx-v4-00806f050000-2025-07',
  'tdx/phala-near-tdx-v4-20a06f000000',
  'tdx/gotdx-tdx-v5-90c06f000000',
] as const;

interface Vector {
  quote: Uint8Array;
  raw: Record<string, string>;
  now: number;
}

function vector(dir: string): Vector {
  const quote = new Uint8Array(readFileSync(`${VECTORS}${dir}/quote.bin`));
  const raw = JSON.parse(readFileSync(`${VECTORS}${dir}/collateral.json`, 'utf8')) as Record<string, string>;
  const now = (JSON.parse(readFileSync(`${VECTORS}${dir}/expected.json`, 'utf8')) as { verify_at_unix: number })
    .verify_at_unix;
  return { quote, raw, now };
}

/** A call that verifies the next of `items` on each call, round robin. */
function roundRobin<T>(items: readonly T[], verify: (item: T) => unknown): () => unknown {
  let i = 0;
  return () => verify(items[i++ % items.length] as T);
}

function row(label: string, ours: number, theirs: number, note: string): void {
  console.log(
    `${label.padEnd(24)} ${ours.toFixed(0).padStart(11)} ${theirs.toFixed(0).padStart(18)} ${(ours / theirs).toFixed(1).padStart(7)}x   ${note}`,
  );
}

if (runs('dcap')) {
  console.log(`DCAP quote verification, one core, ${SECONDS} s per measurement\n`);
  console.log('vector                    cloister/s  @phala/dcap-qvl/s   ratio   status');
  const verifier = new DcapVerifier();
  for (const [label, dir] of cases) {
    const { quote, raw, now } = vector(dir);
    const collateral = verifier.prepare(raw);
    const ours = verifier.verify(quote, { collateral, now }).tcbStatus;
    const theirs = peer.verify(quote, raw, now).status;
    const a = rate(() => verifier.verify(quote, { collateral, now }), SECONDS);
    const b = rate(() => peer.verify(quote, raw, now), SECONDS);
    row(`${label}, warm`, a, b, `${ours}${ours === theirs ? '' : ` (peer: ${theirs})`}`);
  }

  const platforms = rotation.map(vector).map((v) => ({ ...v, collateral: verifier.prepare(v.raw) }));
  for (const p of platforms) {
    const ours = new DcapVerifier().verify(p.quote, { collateral: p.collateral, now: p.now }).tcbStatus;
    const theirs = peer.verify(p.quote, p.raw, p.now).status;
    if (ours !== theirs) console.log(`  (a rotation quote: cloister ${ours}, peer ${theirs})`);
  }
  const fresh = rate(
    roundRobin(platforms, (p) => new DcapVerifier().verify(p.quote, { collateral: p.collateral, now: p.now })),
    SECONDS,
  );
  const cold = rate(
    roundRobin(platforms, (p) => {
      const v = new DcapVerifier();
      return v.verify(p.quote, { collateral: v.prepare(p.raw), now: p.now });
    }),
    SECONDS,
  );
  const peerRotation = rate(
    roundRobin(platforms, (p) => peer.verify(p.quote, p.raw, p.now)),
    SECONDS,
  );
  const chains = new Set(platforms.map((p) => Buffer.from(parseQuote(p.quote).pckChain).toString('latin1')));
  const note = `${platforms.length} quotes, ${chains.size} PCK chains`;
  row('rotation, fresh chain', fresh, peerRotation, note);
  row('rotation, nothing reused', cold, peerRotation, note);
}

if (runs('snp')) await benchSnp(SECONDS);
if (runs('protect')) await benchProtect(SECONDS);
if (runs('protect-cli')) await benchProtectCli();
if (runs('activation')) await benchActivation();
if (runs('maa')) await benchMaa();
if (runs('evidence')) await benchEvidence(SECONDS);

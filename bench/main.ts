import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DcapVerifier } from '../src/attest/index.js';
import { benchActivation } from './activation.js';
import { benchSnp } from './snp.js';
import { benchProtect } from './protect.js';
import { benchMaa } from './maa.js';

/**
 * `npm run bench`: DCAP quote verifications per second on one core (this process's main
 * thread) for cloister and for @phala/dcap-qvl, on real SGX and TDX vectors at their own time,
 * collateral parsed once. Every iteration parses the quote and checks both of its P-256
 * signatures; nothing is memoised by the quote bytes.
 */

interface PeerModule {
  verify(quote: Uint8Array, collateral: unknown, now: number): { status: string };
}

const VECTORS = fileURLToPath(new URL('../../test/vectors/', import.meta.url));
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
/** `BENCH_ONLY=dcap,snp,protect,activation,maa` runs some sections only. */
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

const cases = [
  ['SGX v3', 'sgx/phala-sgx-v3-processor-00a067110000'],
  ['TDX v4', 'tdx/phala-tdx-v4-b0c06f000000-uptodate'],
  ['TDX v5', 'tdx/gotdx-tdx-v5-90c06f000000'],
] as const;

if (runs('dcap')) {
  console.log(`DCAP quote verification, one core, ${SECONDS} s per measurement\n`);
  console.log('vector    cloister/s  @phala/dcap-qvl/s   ratio   status');
  const verifier = new DcapVerifier();
  for (const [label, dir] of cases) {
    const quote = new Uint8Array(readFileSync(`${VECTORS}${dir}/quote.bin`));
    const raw = JSON.parse(readFileSync(`${VECTORS}${dir}/collateral.json`, 'utf8')) as Record<string, string>;
    const now = (JSON.parse(readFileSync(`${VECTORS}${dir}/expected.json`, 'utf8')) as { verify_at_unix: number })
      .verify_at_unix;
    const collateral = verifier.prepare(raw);
    const ours = verifier.verify(quote, { collateral, now }).tcbStatus;
    const theirs = peer.verify(quote, raw, now).status;
    const a = rate(() => verifier.verify(quote, { collateral, now }), SECONDS);
    const b = rate(() => peer.verify(quote, raw, now), SECONDS);
    console.log(
      `${label.padEnd(8)} ${a.toFixed(0).padStart(11)} ${b.toFixed(0).padStart(18)} ${(a / b).toFixed(1).padStart(7)}x   ${ours}${ours === theirs ? '' : ` (peer: ${theirs})`}`,
    );
  }
}

if (runs('snp')) await benchSnp(SECONDS);
if (runs('protect')) await benchProtect(SECONDS);
if (runs('activation')) await benchActivation();
if (runs('maa')) await benchMaa();

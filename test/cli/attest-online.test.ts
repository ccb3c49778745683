import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startFakePcs } from '../collateral/fake-pcs.js';
import { tempDir } from '../e2e/harness.js';

/** `cloister attest verify --pccs URL`: collateral fetched from a PCCS-compatible server, then cached. */

const BIN = fileURLToPath(new URL('../../../bin/cloister.js', import.meta.url));
const VECTORS = fileURLToPath(new URL('../../../test/vectors/', import.meta.url));
const TDX = 'tdx/phala-tdx-v4-b0c06f000000-uptodate';

function run(
  ...args: string[]
): Promise<{ code: number; out: { ok: boolean; tcbStatus?: string; error?: { code: string } } }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (error, stdout) =>
      resolve({ code: error ? Number(error.code) : 0, out: JSON.parse(stdout) as never }),
    );
  });
}

test("fetches by the quote's FMSPC and CA, then reuses the cache until nextUpdate", async () => {
  const pcs = await startFakePcs({ vectors: [TDX], protocol: 'http', flavor: 'pccs' });
  const cache = tempDir('collateral');
  try {
    const args = [
      'attest',
      'verify',
      `${VECTORS}${TDX}/quote.bin`,
      '--pccs',
      pcs.url,
      '--collateral-cache',
      cache,
      '--at',
      '1750332747',
      '--json',
    ];
    const first = await run(...args);
    assert.equal(first.code, 0);
    assert.equal(first.out.tcbStatus, 'UpToDate');
    const fetched = pcs.requests.length;
    assert.ok(pcs.requests.some((r) => r.includes('/tdx/certification/v4/tcb?fmspc=B0C06F000000')));
    assert.ok(pcs.requests.some((r) => r.includes('ca=platform')));
    assert.equal((await run(...args)).code, 0);
    assert.equal(pcs.requests.length, fetched);
    assert.equal(readdirSync(cache).length, 1);
  } finally {
    await pcs.close();
  }
});

test('an unknown FMSPC is a fetch failure; a bad URL is a usage error', async () => {
  const pcs = await startFakePcs({
    vectors: ['sgx/phala-sgx-v3-processor-00a067110000'],
    protocol: 'http',
    flavor: 'pccs',
  });
  const cache = tempDir('collateral');
  try {
    const r = await run(
      'attest',
      'verify',
      `${VECTORS}${TDX}/quote.bin`,
      '--pccs',
      pcs.url,
      '--collateral-cache',
      cache,
      '--at',
      '1750332747',
      '--json',
    );
    assert.equal(r.code, 1);
    assert.equal(r.out.error?.code, 'COLLATERAL_FETCH_FAILED');
    assert.equal((await run('attest', 'verify', `${VECTORS}${TDX}/quote.bin`, '--pccs', 'ftp://x', '--json')).code, 2);
  } finally {
    await pcs.close();
  }
});

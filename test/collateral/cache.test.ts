import 'reflect-metadata';

import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  CACHE_FORMAT,
  cacheFilePath,
  collateralNextUpdate,
  getCollateral,
  readCacheEntry,
} from '../../src/collateral/index.js';
import type { QuoteCollateralV3 } from '../../src/collateral/index.js';
import { CloisterError } from '../../src/lib/errors.js';
import {
  SGX_PROCESSOR,
  TDX,
  at,
  clientOf,
  loadVector,
  replaceInBody,
  tempDir,
  vectorsWithCollateral,
  withFake,
} from './fake-pcs.js';
import type { FakePcs, Vector } from './fake-pcs.js';

/** nextUpdate (Unix seconds) computed with @peculiar/x509 and JSON.parse, independently of cache.ts. */
function independentNextUpdate(c: QuoteCollateralV3): number {
  const crl = (hex: string): number => new x509.X509Crl(Buffer.from(hex, 'hex')).nextUpdate?.getTime() ?? NaN;
  const json = (text: string): number => Date.parse((JSON.parse(text) as { nextUpdate: string }).nextUpdate);
  return Math.min(json(c.tcb_info), json(c.qe_identity), crl(c.pck_crl), crl(c.root_ca_crl)) / 1000;
}

function optionsOf(v: Vector, pcs: FakePcs, cacheDir: string, now: number) {
  return { tee: v.tee, fmspc: v.fmspc, ca: v.ca, cacheDir, now, ...clientOf(pcs) };
}

test('collateralNextUpdate is the earliest nextUpdate of the four parts, on every vector', async () => {
  for (const name of await vectorsWithCollateral()) {
    const { expected } = await loadVector(name);
    assert.equal(collateralNextUpdate(expected), independentNextUpdate(expected), name);
  }
});

test('collateralNextUpdate: a damaged CRL only ever throws CloisterError', async () => {
  const { expected } = await loadVector(SGX_PROCESSOR);
  fc.assert(
    fc.property(
      fc.nat({ max: expected.pck_crl.length - 1 }),
      fc.constantFrom(...'0123456789abcdefg'),
      fc.boolean(),
      (offset, digit, cut) => {
        const pck = cut
          ? expected.pck_crl.slice(0, offset)
          : `${expected.pck_crl.slice(0, offset)}${digit}${expected.pck_crl.slice(offset + 1)}`;
        try {
          collateralNextUpdate({ ...expected, pck_crl: pck });
        } catch (e) {
          assert.ok(e instanceof CloisterError, String(e));
        }
      },
    ),
  );
});

test('getCollateral reuses the cache before nextUpdate and refetches from nextUpdate on', async (t) => {
  const dir = await tempDir(t);
  const v = await loadVector(SGX_PROCESSOR);
  const next = independentNextUpdate(v.expected);
  await withFake({ vectors: [v.name], protocol: 'http' }, async (pcs) => {
    const fetchAt = (now: number) => getCollateral({ ...optionsOf(v, pcs, dir, now), fmspc: v.fmspc.toLowerCase() });
    assert.deepEqual(await fetchAt(next - 60), v.expected);
    assert.equal(pcs.requests.length, 4);
    const file = cacheFilePath(dir, v);
    assert.equal(file, join(dir, 'sgx-00A067110000-processor.json'));
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
      format: CACHE_FORMAT,
      tee: 'sgx',
      fmspc: '00A067110000',
      ca: 'processor',
      nextUpdate: next,
      collateral: v.expected,
    });

    assert.deepEqual(await fetchAt(next - 60), v.expected);
    assert.deepEqual(await fetchAt(next - 0.001), v.expected);
    assert.equal(pcs.requests.length, 4, 'served from the cache');
    assert.deepEqual(await fetchAt(next), v.expected);
    assert.equal(pcs.requests.length, 8, 'refetched at nextUpdate');
    assert.deepEqual(await fetchAt(next + 86_400), v.expected);
    assert.equal(pcs.requests.length, 12, 'the stale set served by the PCS is refetched each time');
    assert.deepEqual(await readdir(dir), ['sgx-00A067110000-processor.json'], 'no temporary files left');
  });
});

test('cache entries are per TEE, FMSPC and CA', async (t) => {
  const dir = await tempDir(t);
  const vectors = [await loadVector(SGX_PROCESSOR), await loadVector(TDX)];
  await withFake({ vectors: vectors.map((v) => v.name), protocol: 'http' }, async (pcs) => {
    for (const v of vectors) {
      const options = optionsOf(v, pcs, dir, independentNextUpdate(v.expected) - 1);
      assert.deepEqual(await getCollateral(options), v.expected);
      assert.deepEqual(await getCollateral(options), v.expected);
    }
    assert.equal(pcs.requests.length, 8);
    assert.deepEqual((await readdir(dir)).sort(), [
      'sgx-00A067110000-processor.json',
      'tdx-B0C06F000000-platform.json',
    ]);
  });
});

const CORRUPTIONS: Array<[string, (text: string, next: number) => string]> = [
  ['garbage', () => '\u0000not json'],
  ['a truncated file', (s) => s.slice(0, s.length / 2)],
  ['an empty object', () => '{}'],
  ['another format', (s) => s.replace(CACHE_FORMAT, 'something-else')],
  [
    'nextUpdate pushed into the future',
    (s, next) => s.replace(`"nextUpdate": ${next}`, `"nextUpdate": ${next + 365 * 86_400}`),
  ],
  ['a damaged CRL', (s) => s.replace('"pck_crl": "30', '"pck_crl": "31')],
  ['a missing field', (s) => s.replace('"root_ca_crl"', '"root_crl"')],
  ['another FMSPC', (s) => s.replace('"fmspc": "00A067110000"', '"fmspc": "00A067110001"')],
];
for (const [what, corrupt] of CORRUPTIONS) {
  test(`a cache file with ${what} is COLLATERAL_CACHE_INVALID, refetched and replaced`, async (t) => {
    const dir = await tempDir(t);
    const v = await loadVector(SGX_PROCESSOR);
    const next = independentNextUpdate(v.expected);
    await withFake({ vectors: [v.name], protocol: 'http' }, async (pcs) => {
      const options = optionsOf(v, pcs, dir, next - 60);
      await getCollateral(options);
      const file = cacheFilePath(dir, options);
      const original = await readFile(file, 'utf8');
      const damaged = corrupt(original, next);
      assert.notEqual(damaged, original);
      await writeFile(file, damaged);
      await assert.rejects(readCacheEntry(dir, options), { code: 'COLLATERAL_CACHE_INVALID', path: file });

      assert.deepEqual(await getCollateral(options), v.expected);
      assert.equal(pcs.requests.length, 8, 'refetched');
      assert.equal(await readFile(file, 'utf8'), original, 'replaced');
    });
  });
}

test('an unusable response is an error and is never cached', async (t) => {
  const dir = await tempDir(t);
  const v = await loadVector(SGX_PROCESSOR);
  await withFake(
    { vectors: [v.name], protocol: 'http', override: at('/tcb', replaceInBody('"nextUpdate"', '"nextUpdat"')) },
    async (pcs) => {
      const options = optionsOf(v, pcs, dir, 0);
      await assert.rejects(getCollateral(options), {
        code: 'COLLATERAL_RESPONSE_INVALID',
        field: 'tcbInfo.nextUpdate',
      });
      assert.deepEqual(await readdir(dir), []);
      assert.equal(await readCacheEntry(dir, options), undefined);
    },
  );
});

test('a cache folder that cannot be written is COLLATERAL_CACHE_INVALID', async (t) => {
  const blocker = join(await tempDir(t), 'file');
  await writeFile(blocker, 'not a folder');
  const v = await loadVector(SGX_PROCESSOR);
  await withFake({ vectors: [v.name], protocol: 'http' }, async (pcs) => {
    await assert.rejects(getCollateral(optionsOf(v, pcs, join(blocker, 'cache'), 0)), {
      code: 'COLLATERAL_CACHE_INVALID',
    });
  });
});

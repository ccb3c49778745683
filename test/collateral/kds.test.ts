import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import {
  SnpVerifier,
  amdExtensions,
  parseCertificate,
  parseSnpReport,
  type ProductLine,
} from '../../src/attest/index.js';
import { pemCertificates } from '../../src/attest/lib/x509.js';
import {
  AMD_KDS_URL,
  fetchKdsCertChain,
  fetchKdsCrl,
  fetchVcek,
  getSnpCollateral,
  kdsUrls,
  vcekUrl,
} from '../../src/collateral/index.js';
import { tempDir } from './fake-pcs.js';
import {
  CHAINS,
  DAY,
  GENOA,
  GOSEV,
  MILAN,
  VIRTEE,
  VLEK,
  bytes,
  certsOf,
  expectedOf,
  reportOf,
  text,
  throwsCode,
} from '../attest/snp/helpers.js';
import { buildReport, signReport, testCa, testCrl, testVcek } from '../attest/snp/pki.js';

/*
 * A local server that answers like AMD's KDS (VCEK Certificate and KDS Interface Specification
 * §4: `/vcek/v1/{product}/{hwid}?blSPL=…`, `/{vcek,vlek}/v1/{product}/cert_chain` and `/crl`),
 * serving the SNP vectors' certificates byte for byte (and, where AMD's own files are not in the
 * vectors, a CRL and a chain of a test PKI).
 */

interface Served {
  /** `vcek/Milan`-style keys to the cert_chain PEM text. */
  chains: Map<string, string>;
  crls: Map<string, Uint8Array>;
  vceks: { product: string; hwid: string; query: string; der: Uint8Array }[];
}

interface FakeKds {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

type Override = (path: string, res: http.ServerResponse) => boolean;

/** The KDS query of a VCEK's extensions: what AMD would be asked for to get it. */
function vcekEntry(der: Uint8Array): Served['vceks'][number] {
  const ext = amdExtensions(parseCertificate(der), 'vcek');
  const t = ext.tcb;
  const query = `${t.fmc === undefined ? '' : `fmcSPL=${t.fmc}&`}blSPL=${t.bootloader}&teeSPL=${t.tee}&snpSPL=${t.snp}&ucodeSPL=${t.microcode}`;
  return { product: ext.product, hwid: Buffer.from(ext.hwid as Uint8Array).toString('hex'), query, der };
}

async function vectorTables(crl: Uint8Array): Promise<Served> {
  const chains = new Map<string, string>([
    ['vcek/Milan', text(`${MILAN}/ask.pem`) + text(`${MILAN}/ark.pem`)],
    ['vcek/Genoa', text(`${GENOA}/ask.pem`) + text(`${GENOA}/ark.pem`)],
    ['vcek/Turin', text(`${CHAINS}/turin-ask.pem`) + text(`${CHAINS}/turin-ark.pem`)],
    ['vlek/Milan', text(`${VLEK}/asvk.pem`) + text(`${VLEK}/ark.pem`)],
  ]);
  const crls = new Map([...chains.keys()].map((k) => [k, crl]));
  const vceks = [GOSEV, MILAN, GENOA, VIRTEE].map((n) => vcekEntry(bytes(`${n}/vcek.der`)));
  vceks.push(vcekEntry(bytes(`${CHAINS}/virtee-turin-vcek.der`)));
  return { chains, crls, vceks };
}

async function startFakeKds(served: Served, override?: Override): Promise<FakeKds> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://fake');
    requests.push(`${target.pathname}${target.search}`);
    if (override?.(target.pathname, res)) return;
    const send = (status: number, body: Uint8Array | string = '') =>
      res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
    const m = /^(?:\/prefix)?\/(vcek|vlek)\/v1\/(\w+)\/([0-9a-f_]+|cert_chain|crl)$/.exec(target.pathname);
    if (!m) return send(404);
    const [, kind, product, what] = m as unknown as [string, string, string, string];
    if (what === 'cert_chain')
      return send(served.chains.has(`${kind}/${product}`) ? 200 : 404, served.chains.get(`${kind}/${product}`) ?? '');
    if (what === 'crl')
      return served.crls.has(`${kind}/${product}`)
        ? send(200, served.crls.get(`${kind}/${product}`) as Uint8Array)
        : send(404);
    const found = served.vceks.find(
      (v) => kind === 'vcek' && v.product === product && v.hwid === what && v.query === target.search.slice(1),
    );
    return found ? send(200, found.der) : send(404);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function withKds<T>(served: Served, body: (kds: FakeKds) => Promise<T>, override?: Override): Promise<T> {
  const kds = await startFakeKds(served, override);
  try {
    return await body(kds);
  } finally {
    await kds.close();
  }
}

const firstDer = (pem: string | undefined) => pemCertificates(pem as string)[0];

// A CRL of a test ARK: AMD's CRLs are not among the vectors; the fetcher only reads it.
const testCrlDer = await (async () => {
  const ca = await testCa('Milan');
  return testCrl(ca, 'ark', ['0a'], Date.UTC(2025, 0, 1) / 1000, 30);
})();
const tables = await vectorTables(testCrlDer);

describe('URLs', () => {
  test('a Milan VCEK: product, 64-byte hwID in lowercase hex, the four SPLs in KDS order', () => {
    const ext = amdExtensions(parseCertificate(bytes(`${GOSEV}/vcek.der`)), 'vcek');
    const hwid = Buffer.from(ext.hwid as Uint8Array).toString('hex');
    assert.equal(
      vcekUrl({ product: 'Milan', hwid: hwid.toUpperCase(), tcb: ext.tcb }),
      `${AMD_KDS_URL}/vcek/v1/Milan/${hwid}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`,
    );
  });

  test('a Turin VCEK: an 8-byte hwID and fmcSPL first', () => {
    assert.equal(
      vcekUrl(
        { product: 'Turin', hwid: '1e550a8ee5cf9f4d', tcb: { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 } },
        { baseUrl: 'http://kds.local/base/' },
      ),
      'http://kds.local/base/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5',
    );
  });

  test('chain and CRL URLs of VCEKs and VLEKs', () => {
    assert.deepEqual(kdsUrls('Genoa'), {
      certChain: `${AMD_KDS_URL}/vcek/v1/Genoa/cert_chain`,
      crl: `${AMD_KDS_URL}/vcek/v1/Genoa/crl`,
    });
    assert.equal(kdsUrls('Milan', 'vlek').crl, `${AMD_KDS_URL}/vlek/v1/Milan/crl`);
  });

  test('a hwID of the wrong length, a missing or out-of-range SPL, an unknown product → COLLATERAL_FETCH_FAILED', () => {
    const tcb = { bootloader: 1, tee: 0, snp: 1, microcode: 1 };
    throwsCode(() => vcekUrl({ product: 'Milan', hwid: 'ab'.repeat(8), tcb }), 'COLLATERAL_FETCH_FAILED', 'hwid');
    throwsCode(() => vcekUrl({ product: 'Turin', hwid: 'ab'.repeat(8), tcb }), 'COLLATERAL_FETCH_FAILED', 'tcb.fmc');
    throwsCode(
      () => vcekUrl({ product: 'Milan', hwid: 'ab'.repeat(64), tcb: { ...tcb, snp: 256 } }),
      'COLLATERAL_FETCH_FAILED',
      'tcb.snp',
    );
    throwsCode(
      () => vcekUrl({ product: 'Naples' as ProductLine, hwid: 'ab'.repeat(64), tcb }),
      'COLLATERAL_FETCH_FAILED',
      'product',
    );
  });
});

describe('fetching from a local KDS', () => {
  test('every VCEK of the vectors is fetched byte for byte by its product, hwID and TCB', async () => {
    await withKds(tables, async (kds) => {
      for (const v of tables.vceks) {
        const ext = amdExtensions(parseCertificate(v.der), 'vcek');
        assert.deepEqual(
          await fetchVcek({ product: ext.product, hwid: v.hwid, tcb: ext.tcb, baseUrl: kds.url }),
          v.der,
        );
      }
      assert.equal(kds.requests.length, tables.vceks.length);
      assert.ok(
        kds.requests.every((r) =>
          /^\/vcek\/v1\/(Milan|Genoa|Turin)\/[0-9a-f]+\?(fmcSPL=\d+&)?blSPL=\d+&teeSPL=\d+&snpSPL=\d+&ucodeSPL=\d+$/.test(
            r,
          ),
        ),
        kds.requests.join('\n'),
      );
    });
  });

  test('cert chains (ASK or ASVK, then ARK) and CRLs', async () => {
    await withKds(tables, async (kds) => {
      const milan = await fetchKdsCertChain({ product: 'Milan', baseUrl: kds.url });
      assert.deepEqual(firstDer(milan.ask), firstDer(text(`${MILAN}/ask.pem`)));
      assert.deepEqual(firstDer(milan.ark), firstDer(text(`${MILAN}/ark.pem`)));
      const genoa = await fetchKdsCertChain({ product: 'Genoa', baseUrl: `${kds.url}/prefix/` });
      assert.deepEqual(firstDer(genoa.ask), firstDer(text(`${GENOA}/ask.pem`)));
      const vlek = await fetchKdsCertChain({ product: 'Milan', kind: 'vlek', baseUrl: kds.url });
      assert.deepEqual(Object.keys(vlek).sort(), ['ark', 'asvk']);
      assert.deepEqual(firstDer(vlek.asvk), firstDer(text(`${VLEK}/asvk.pem`)));
      assert.deepEqual(await fetchKdsCrl({ product: 'Genoa', baseUrl: kds.url }), testCrlDer);
      assert.deepEqual(kds.requests, [
        '/vcek/v1/Milan/cert_chain',
        '/prefix/vcek/v1/Genoa/cert_chain',
        '/vlek/v1/Milan/cert_chain',
        '/vcek/v1/Genoa/crl',
      ]);
    });
  });

  test('an unknown hwID → COLLATERAL_FETCH_FAILED with status 404; too many requests → status 429', async () => {
    await withKds(tables, async (kds) => {
      await assert.rejects(
        fetchVcek({
          product: 'Milan',
          hwid: 'ab'.repeat(64),
          tcb: { bootloader: 1, tee: 0, snp: 1, microcode: 1 },
          baseUrl: kds.url,
        }),
        { code: 'COLLATERAL_FETCH_FAILED', status: 404 },
      );
    });
    await withKds(
      tables,
      async (kds) => {
        await assert.rejects(fetchKdsCrl({ product: 'Milan', baseUrl: kds.url }), {
          code: 'COLLATERAL_FETCH_FAILED',
          status: 429,
          url: `${kds.url}/vcek/v1/Milan/crl`,
        });
      },
      (_path, res) => Boolean(res.writeHead(429).end()),
    );
  });

  test('the VCEK of another chip than asked → COLLATERAL_RESPONSE_INVALID', async () => {
    const wrong = bytes(`${MILAN}/vcek.der`);
    const asked = vcekEntry(bytes(`${GOSEV}/vcek.der`));
    await withKds(
      tables,
      async (kds) => {
        const ext = amdExtensions(parseCertificate(bytes(`${GOSEV}/vcek.der`)), 'vcek');
        await assert.rejects(fetchVcek({ product: 'Milan', hwid: asked.hwid, tcb: ext.tcb, baseUrl: kds.url }), {
          code: 'COLLATERAL_RESPONSE_INVALID',
          field: 'vcek',
        });
      },
      (path, res) => path.endsWith(asked.hwid) && Boolean(res.writeHead(200).end(wrong)),
    );
  });

  test('unusable bodies → COLLATERAL_RESPONSE_INVALID: a one-certificate chain, a CRL that is not one, a body over the limit', async () => {
    const one = {
      ...tables,
      chains: new Map([['vcek/Milan', text(`${MILAN}/ask.pem`)]]),
      crls: new Map([['vcek/Milan', new Uint8Array([1, 2, 3])]]),
    };
    await withKds(one, async (kds) => {
      await assert.rejects(fetchKdsCertChain({ product: 'Milan', baseUrl: kds.url }), {
        code: 'COLLATERAL_RESPONSE_INVALID',
        field: 'cert_chain',
      });
      await assert.rejects(fetchKdsCrl({ product: 'Milan', baseUrl: kds.url }), {
        code: 'COLLATERAL_RESPONSE_INVALID',
        field: 'crl',
      });
    });
    await withKds(tables, async (kds) => {
      await assert.rejects(fetchKdsCertChain({ product: 'Milan', baseUrl: kds.url, maxResponseBytes: 1000 }), {
        code: 'COLLATERAL_RESPONSE_INVALID',
      });
    });
    // Without Content-Length, the limit applies while the body streams.
    await withKds(
      tables,
      async (kds) => {
        await assert.rejects(fetchKdsCrl({ product: 'Milan', baseUrl: kds.url, maxResponseBytes: 1000 }), {
          code: 'COLLATERAL_RESPONSE_INVALID',
        });
      },
      (_path, res) => {
        res.writeHead(200);
        for (let i = 0; i < 4; i++) res.write(Buffer.alloc(400));
        res.end();
        return true;
      },
    );
  });

  test('no answer within the time limit, or nobody listening → COLLATERAL_FETCH_FAILED', async () => {
    await withKds(
      tables,
      async (kds) => {
        await assert.rejects(fetchKdsCrl({ product: 'Milan', baseUrl: kds.url, timeoutMs: 200 }), {
          code: 'COLLATERAL_FETCH_FAILED',
          message: /within 200 ms/,
        });
      },
      () => true,
    );
    const closed = await startFakeKds(tables);
    await closed.close();
    await assert.rejects(fetchKdsCrl({ product: 'Milan', baseUrl: closed.url }), { code: 'COLLATERAL_FETCH_FAILED' });
  });
});

describe('getSnpCollateral: the certificates of a report, through the disk cache', () => {
  test('a Genoa report: VCEK by CHIP_ID and REPORTED_TCB, ASK, ARK, CRL; then verification; then the cache alone', async (t) => {
    const cacheDir = await tempDir(t);
    const report = reportOf(GENOA);
    const now = expectedOf(GENOA).verify_at_unix;
    await withKds(tables, async (kds) => {
      const { certs, crl } = await getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url });
      assert.deepEqual(certs.vcek, bytes(`${GENOA}/vcek.der`));
      assert.deepEqual(crl, testCrlDer);
      assert.equal(
        new SnpVerifier().verify(report, certs, { now }).claims['measurement'],
        parseSnpReport(report).measurement.reduce((s, b) => s + b.toString(16).padStart(2, '0'), ''),
      );
      assert.equal(kds.requests.length, 3);
      const again = await getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url });
      assert.deepEqual(again, { certs, crl });
      assert.equal(kds.requests.length, 3, 'the second call is answered from the cache');
      assert.deepEqual((await readdir(join(cacheDir, 'kds', 'Genoa'))).sort(), [
        'vcek-0506ffba875e939c2729d20c74eb72b4c5ba6bf7ea1faaa640141f12c6d64782fb487f68ce69dcd021e914cc0d9244327bc121f0242d6470903ad1d4aaea4ad1-10-0-23-84.der',
        'vcek-cert_chain.pem',
        'vcek-crl.der',
      ]);
    });
  });

  test('a CRL past its nextUpdate and an unreadable cache file are fetched again', async (t) => {
    const cacheDir = await tempDir(t);
    const report = reportOf(GENOA);
    const now = expectedOf(GENOA).verify_at_unix;
    await withKds(tables, async (kds) => {
      await getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url });
      await getSnpCollateral({ report, now: now + 60 * DAY, cacheDir, baseUrl: kds.url });
      assert.deepEqual(kds.requests.slice(3), ['/vcek/v1/Genoa/crl']);
      await writeFile(join(cacheDir, 'kds', 'Genoa', 'vcek-cert_chain.pem'), 'torn');
      const { certs } = await getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url });
      assert.deepEqual(kds.requests.slice(4), ['/vcek/v1/Genoa/cert_chain']);
      assert.equal(
        await readFile(join(cacheDir, 'kds', 'Genoa', 'vcek-cert_chain.pem'), 'utf8'),
        `${certs.ask as string}${certs.ark as string}`,
      );
    });
  });

  test('a v2 report does not state its product line: it must be given', async (t) => {
    const cacheDir = await tempDir(t);
    const report = reportOf(GOSEV);
    const now = expectedOf(GOSEV).verify_at_unix;
    await withKds(tables, async (kds) => {
      await assert.rejects(getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url }), {
        code: 'COLLATERAL_FETCH_FAILED',
        field: 'product',
      });
      const { certs } = await getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url, product: 'Milan' });
      assert.equal(new SnpVerifier().verify(report, certs, { now }).claims['debug'], true);
    });
  });

  test("a VLEK report: the ASVK chain and CRL (the VLEK itself is the cloud provider's)", async (t) => {
    const cacheDir = await tempDir(t);
    const report = reportOf(VLEK);
    await withKds(tables, async (kds) => {
      const { certs } = await getSnpCollateral({
        report,
        now: Date.UTC(2025, 0, 1) / 1000,
        cacheDir,
        baseUrl: kds.url,
      });
      assert.deepEqual(Object.keys(certs).sort(), ['ark', 'asvk']);
      assert.deepEqual(kds.requests.sort(), ['/vlek/v1/Milan/cert_chain', '/vlek/v1/Milan/crl']);
      assert.ok(
        new SnpVerifier().verify(report, { ...certs, vlek: certsOf(VLEK).vlek }, { now: Date.UTC(2025, 0, 1) / 1000 }),
      );
    });
  });

  test('a test PKI served by the KDS: fetched VCEK, chain and ASK CRL verify, and the CRL revokes', async (t) => {
    const cacheDir = await tempDir(t);
    const ca = await testCa('Genoa');
    const hwid = new Uint8Array(64).fill(0x42);
    const tcb = { bootloader: 9, tee: 1, snp: 20, microcode: 200 };
    const vcek = await testVcek(ca, hwid, tcb, { serial: '4242' });
    const now = vcek.notBefore + DAY;
    const report = signReport(buildReport({ tcb, chipId: hwid }), vcek.key);
    const served = (crl: Uint8Array): Served => ({
      chains: new Map([['vcek/Genoa', ca.askPem + ca.arkPem]]),
      crls: new Map([['vcek/Genoa', crl]]),
      vceks: [vcekEntry(vcek.der)],
    });
    const verifier = new SnpVerifier({ roots: { Genoa: ca.arkDer } });
    await withKds(served(await testCrl(ca, 'ask', ['01'], now - DAY)), async (kds) => {
      const { certs, crl } = await getSnpCollateral({ report, now, cacheDir, baseUrl: kds.url });
      assert.equal(verifier.verify(report, certs, { now, crl }).collateralExpiry, now + 6 * DAY);
    });
    await withKds(served(await testCrl(ca, 'ask', ['4242'], now + 7 * DAY)), async (kds) => {
      // A week later the cached CRL is past its nextUpdate: the new one, which revokes the VCEK, is fetched.
      const later = now + 8 * DAY;
      const { certs, crl } = await getSnpCollateral({ report, now: later, cacheDir, baseUrl: kds.url });
      assert.deepEqual(kds.requests, ['/vcek/v1/Genoa/crl']);
      throwsCode(() => verifier.verify(report, certs, { now: later, crl }), 'CERT_REVOKED', 'vcek');
    });
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationClient } from '@azure/attestation';
import { startAttestationService } from '../../src/cli/attestation-service.js';
import { freePort, tempDir } from '../e2e/harness.js';
import { VECTORS } from '../attestation-service/helpers.js';
import { fileURLToPath } from 'node:url';
import { SGX_PROCESSOR, withFake } from '../collateral/fake-pcs.js';
import { vectorFile, vectorJson } from '../attestation-service/helpers.js';

/**
 * The collateral sources of `cloister attestation-service`: `--collateral` files and folders
 * (chosen by the quote's FMSPC and CA), `--pccs` (fetched for each quote, cached; an unreachable
 * PCCS is a 503).
 */

interface Expected {
  verify_at_unix: number;
  report: { mrenclave: string };
  expected: { tcb_status: string; advisory_ids: string[] };
}

async function start(pccs: string | undefined, dir: string, at: number, collateral: string[] = []) {
  const e = vectorJson<Expected>(`${SGX_PROCESSOR}/expected.json`);
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({ acceptedTcbStatuses: [e.expected.tcb_status], acceptedAdvisories: e.expected.advisory_ids }),
  );
  const listen = `127.0.0.1:${await freePort()}`;
  const running = await startAttestationService({
    dataDir: join(dir, 'data'),
    listen,
    collateral,
    pccs,
    collateralCache: join(dir, 'cache'),
    policy: join(dir, 'policy.json'),
    dnsName: [],
    fixedTime: String(at),
  });
  return { ...running, agent: new https.Agent({ ca: running.rootPem }) };
}

test("a real quote attested with collateral from a PCCS, at the vector's time", async () => {
  const e = vectorJson<Expected>(`${SGX_PROCESSOR}/expected.json`);
  await withFake({ vectors: [SGX_PROCESSOR], protocol: 'http', flavor: 'pccs' }, async (pcs) => {
    const s = await start(pcs.url, tempDir('maa-pccs'), e.verify_at_unix);
    try {
      const client = new AttestationClient(s.instance, {
        agent: s.agent,
        validationOptions: { validateToken: true, validateIssuer: true, expectedIssuer: s.instance },
      });
      for (let i = 0; i < 2; i++)
        assert.equal(
          (await client.attestSgxEnclave(vectorFile(`${SGX_PROCESSOR}/quote.bin`))).body.mrEnclave,
          e.report.mrenclave,
        );
      assert.equal(
        pcs.requests.filter((r) => r.startsWith('/sgx/certification/v4/tcb')).length,
        1,
        'fetched once, then reused',
      );
    } finally {
      s.agent.destroy();
      await s.close();
    }
  });
});

test('an unreachable PCCS: 503 COLLATERAL_FETCH_FAILED, not a refusal of the evidence', async () => {
  const e = vectorJson<Expected>(`${SGX_PROCESSOR}/expected.json`);
  const s = await start(`http://127.0.0.1:${await freePort()}`, tempDir('maa-pccs-down'), e.verify_at_unix);
  try {
    const error = await new AttestationClient(s.instance, { agent: s.agent })
      .attestSgxEnclave(vectorFile(`${SGX_PROCESSOR}/quote.bin`))
      .then(
        () => assert.fail('attested without collateral'),
        (x: { statusCode?: number; code?: string }) => x,
      );
    assert.deepEqual([error.statusCode, error.code], [503, 'COLLATERAL_FETCH_FAILED']);
  } finally {
    s.agent.destroy();
    await s.close();
  }
});

test("--collateral FOLDER: the set of the quote's FMSPC and CA is chosen among several", async () => {
  const e = vectorJson<Expected>(`${SGX_PROCESSOR}/expected.json`);
  const dir = tempDir('maa-files');
  mkdirSync(join(dir, 'sets'));
  for (const v of [
    SGX_PROCESSOR,
    'sgx/automata-sgx-v3-platform-00606a000000-tcbinfo-v3',
    'tdx/phala-tdx-v4-b0c06f000000-uptodate',
  ]) {
    copyFileSync(
      fileURLToPath(new URL(`${v}/collateral.json`, VECTORS)),
      join(dir, 'sets', `${v.replaceAll('/', '_')}.json`),
    );
  }
  const s = await start(undefined, dir, e.verify_at_unix, [join(dir, 'sets')]);
  try {
    const { body } = await new AttestationClient(s.instance, { agent: s.agent }).attestSgxEnclave(
      vectorFile(`${SGX_PROCESSOR}/quote.bin`),
      { validationOptions: { validateToken: true } },
    );
    assert.equal(body.mrEnclave, e.report.mrenclave);
    const missing = await new AttestationClient(s.instance, { agent: s.agent })
      .attestSgxEnclave(vectorFile('sgx/mobilecoin-sgx-v3-debug-parse-only/quote.bin'))
      .then(
        () => assert.fail('attested without collateral'),
        (x: { statusCode?: number; code?: string }) => x,
      );
    assert.deepEqual([missing.statusCode, missing.code], [400, 'COLLATERAL_MISSING']);
  } finally {
    s.agent.destroy();
    await s.close();
  }
});

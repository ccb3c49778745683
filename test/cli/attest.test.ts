import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `cloister attest verify` as outside tools use it: a real process, the DESIGN.md contract. */

const BIN = fileURLToPath(new URL('../../../bin/cloister.js', import.meta.url));
const VECTORS = fileURLToPath(new URL('../../../test/vectors/', import.meta.url));

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sgx = `${VECTORS}sgx/automata-sgx-v3-platform-00606a000000-tcbinfo-v3`;
const tdx = `${VECTORS}tdx/phala-tdx-v4-b0c06f000000-uptodate`;

test('verified evidence: exactly one JSON object, exit 0', () => {
  const r = run(
    'attest',
    'verify',
    `${sgx}/quote.bin`,
    '--collateral',
    `${sgx}/collateral.json`,
    '--at',
    '2025-08-15T06:41:26Z',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.equal(out['ok'], true);
  assert.equal(out['tee'], 'sgx');
  assert.equal(out['tcbStatus'], 'SWHardeningNeeded');
  assert.deepEqual(out['advisoryIds'], ['INTEL-SA-00615']);
  const claims = out['claims'] as Record<string, unknown>;
  assert.equal(claims['mrenclave'], 'a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd');
  assert.equal(claims['isvProdId'], 0);
  assert.equal(claims['debug'], false);
  assert.equal(claims['fmspc'], '00606a000000');
});

test('hex evidence and Unix-seconds time; TDX claims', () => {
  const r = run(
    'attest',
    'verify',
    `${sgx}/quote.hex`,
    '--collateral',
    `${sgx}/collateral.json`,
    '--at',
    '1755240086',
    '--json',
    '--tee',
    'sgx',
  );
  assert.equal(r.code, 0, r.stdout);
  const t = run(
    'attest',
    'verify',
    `${tdx}/quote.bin`,
    '--collateral',
    `${tdx}/collateral.json`,
    '--at',
    '1750332747',
    '--json',
  );
  const out = JSON.parse(t.stdout) as { tee: string; claims: Record<string, unknown> };
  assert.equal(out.tee, 'tdx');
  assert.match(String(out.claims['mrtd']), /^[0-9a-f]{96}$/);
  assert.match(String(out.claims['rtmr3']), /^[0-9a-f]{96}$/);
});

test('refused evidence: ok false with a code, exit 1', () => {
  const expired = run('attest', 'verify', `${sgx}/quote.bin`, '--collateral', `${sgx}/collateral.json`, '--json');
  assert.equal(expired.code, 1);
  const out = JSON.parse(expired.stdout) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(out.ok, false);
  assert.match(out.error.code, /EXPIRED/);
  const wrongTee = run(
    'attest',
    'verify',
    `${sgx}/quote.bin`,
    '--collateral',
    `${sgx}/collateral.json`,
    '--at',
    '1755240086',
    '--tee',
    'tdx',
    '--json',
  );
  assert.equal(wrongTee.code, 1);
  assert.equal((JSON.parse(wrongTee.stdout) as { error: { code: string } }).error.code, 'QUOTE_UNSUPPORTED_TEE_TYPE');
  const human = run('attest', 'verify', `${sgx}/collateral/pck_crl.der`);
  assert.equal(human.code, 1);
  assert.match(human.stderr, /QUOTE_/);
});

test('usage errors exit 2', () => {
  assert.equal(run('attest', 'verify').code, 2);
  assert.equal(run('attest', 'verify', `${sgx}/quote.bin`, '--tee', 'nope', '--json').code, 2);
  assert.equal(run('attest', 'verify', `${sgx}/quote.bin`, '--at', 'yesterday').code, 2);
  assert.equal(run('attest', 'verify', '/no/such/file', '--json').code, 2);
  assert.equal(run('attest', 'verify', `${sgx}/quote.bin`, '--repeat', '0').code, 2);
  const help = run('attest', 'verify', '--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--collateral/);
});

test('an MAA token: verified against its key set at its time; the key-size floor and the clock apply', () => {
  const dir = `${VECTORS}maa/sharedwus-sgx-token-2021`;
  const args = ['attest', 'verify', `${dir}/token.jwt`, '--jwks', `${dir}/jwks.json`, '--json'];
  const ok = run(...args, '--at', '2021-05-06T00:00:00Z', '--min-rsa-bits', '1024', '--tee', 'maa');
  assert.equal(ok.code, 0, ok.stdout);
  const out = JSON.parse(ok.stdout) as { tee: string; claims: Record<string, unknown> };
  assert.equal(out.tee, 'maa');
  assert.equal(out.claims['mrenclave'], 'b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2');
  assert.equal(
    (JSON.parse(run(...args, '--at', '2021-05-06T00:00:00Z').stdout) as { error: { code: string } }).error.code,
    'TOKEN_KEY_REFUSED',
  );
  assert.equal(
    (JSON.parse(run(...args, '--min-rsa-bits', '1024').stdout) as { error: { code: string } }).error.code,
    'TOKEN_EXPIRED',
  );
  assert.equal(run('attest', 'verify', `${dir}/token.jwt`, '--tee', 'maa').code, 2);
});

test('SEV-SNP and Azure vTPM evidence with AMD certificates from --certs', () => {
  const snp = `${VECTORS}snp/trustee-azure-genoa-vcek`;
  const at = String(
    (JSON.parse(readFileSync(`${snp}/expected.json`, 'utf8')) as { verify_at_unix: number }).verify_at_unix,
  );
  const ok = run('attest', 'verify', `${snp}/report.bin`, '--certs', snp, '--at', at, '--json', '--tee', 'snp');
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(
    String((JSON.parse(ok.stdout) as { claims: Record<string, unknown> }).claims['measurement']),
    /^[0-9a-f]{96}$/,
  );
  const milan = `${VECTORS}snp/gosev-milan-vcek`;
  const wrong = run('attest', 'verify', `${snp}/report.bin`, '--certs', milan, '--at', at, '--json', '--tee', 'snp');
  assert.equal(wrong.code, 1);
  const azure = `${VECTORS}azure-vtpm/trustee-azure-snp-vtpm-evidence-genoa`;
  const nonce = '0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f';
  const vtpm = run(
    'attest',
    'verify',
    `${azure}/evidence.json`,
    '--certs',
    azure,
    '--at',
    '1737771708',
    '--nonce',
    nonce,
    '--json',
  );
  assert.equal(vtpm.code, 0, vtpm.stdout);
  assert.equal((JSON.parse(vtpm.stdout) as { tee: string }).tee, 'azure-snp-vtpm');
  const replay = run(
    'attest',
    'verify',
    `${azure}/evidence.json`,
    '--certs',
    azure,
    '--at',
    '1737771708',
    '--nonce',
    '00',
    '--json',
  );
  assert.equal(replay.code, 1);
});

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError } from '../../../src/lib/errors.js';
import { DcapVerifier } from '../../../src/attest/dcap/verify.js';
import { customRoot } from '../../../src/attest/dcap/root.js';
import {
  createSimPlatform,
  exportSimState,
  importSimState,
  simCollateral,
  simQuote,
  type SimPlatform,
  type SimState,
} from '../../../src/attest/sim/index.js';

const NOW = 1_750_000_000;
const FIELDS = [
  'version',
  'root.cert',
  'root.key',
  'pckCa.cert',
  'pckCa.key',
  'pck.cert',
  'pck.key',
  'tcbSigning.cert',
  'tcbSigning.key',
  'attestationKey',
] as const;

/** A copy of `state` (as JSON) with `field` replaced by `value`. */
function replaced(state: SimState, field: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(state)) as Record<string, Record<string, unknown>>;
  const [a, b] = field.split('.') as [string, string | undefined];
  if (b === undefined) (copy as Record<string, unknown>)[a] = value;
  else (copy[a] as Record<string, unknown>)[b] = value;
  return copy;
}

const invalidAt = (path: string) => (e: unknown) =>
  e instanceof CloisterError && e.code === 'SIM_STATE_INVALID' && e.path === path;

describe('sim platform state', () => {
  let p: SimPlatform;
  let state: SimState;
  before(async () => {
    p = await createSimPlatform({ now: NOW, fmspc: Buffer.from('5eed12345678', 'hex'), validDays: 10 });
    state = exportSimState(p);
  });

  it('carries the options: FMSPC in the PCK certificate, validity from an hour before now', () => {
    assert.equal(Buffer.from(p.tcb.fmspc).toString('hex'), '5eed12345678');
    assert.deepEqual([p.pck.cert.notBefore, p.root.cert.notAfter], [NOW - 3600, NOW - 3600 + 10 * 86_400]);
  });

  it('round-trips through JSON and still produces verifying quotes', async () => {
    const q = importSimState(JSON.parse(JSON.stringify(state)));
    assert.deepEqual(exportSimState(q), state);
    const verifier = new DcapVerifier(customRoot(q.root.cert.der));
    const quote = simQuote(q, { tee: 'tdx', mrTd: new Uint8Array(48) });
    assert.equal(
      verifier.verify(quote, {
        now: NOW,
        collateral: verifier.prepare(await simCollateral(q, { now: NOW, tee: 'tdx' })),
      }).tcbStatus,
      'UpToDate',
    );
  });

  it('refuses garbage with SIM_STATE_INVALID naming the field', () => {
    const other = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const [input, path] of [
      [null, 'simState'],
      [{ ...state, version: 2 }, 'simState.version'],
      [replaced(state, 'pckCa', undefined), 'simState.pckCa'],
      [
        replaced(state, 'pck.cert', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
        'simState.pck.cert',
      ],
      [replaced(state, 'pck.cert', state.root.cert + state.pckCa.cert), 'simState.pck.cert'],
      [replaced(state, 'pck.key', state.root.key), 'simState.pck.key'],
      [replaced(state, 'attestationKey', other), 'simState.attestationKey'],
    ] as const) {
      assert.throws(() => importSimState(input), invalidAt(path), path);
    }
  });

  it('property: arbitrary values, or one field replaced, only ever give SIM_STATE_INVALID', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        assert.throws(() => importSimState(value), { code: 'SIM_STATE_INVALID' });
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...FIELDS), fc.oneof(fc.jsonValue(), fc.string()), (field, value) => {
        fc.pre(field !== 'version' || value !== 1);
        assert.throws(() => importSimState(replaced(state, field, value)), invalidAt(`simState.${field}`));
      }),
    );
  });
});

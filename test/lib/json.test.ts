import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError } from '../../src/lib/errors.js';
import { JsonReader, jsonPath } from '../../src/lib/json.js';

/** The code and path of what `read` throws. */
function refusal(read: () => unknown): { code: string; path: unknown } {
  try {
    read();
  } catch (e) {
    assert.ok(e instanceof CloisterError, String(e));
    return { code: e.code, path: e.path };
  }
  assert.fail('accepted');
}

describe('JsonReader', () => {
  it('paths: members joined with dots, other keys and indexes in brackets, the root as $', () => {
    assert.equal(jsonPath(jsonPath('Marbles', 'backend'), 'TLS'), 'Marbles.backend.TLS');
    assert.equal(jsonPath('Files', '/tmp/a'), 'Files["/tmp/a"]');
    assert.equal(jsonPath('Argv', 2), 'Argv[2]');
    assert.equal(jsonPath('', 'Packages'), 'Packages');
    assert.equal(jsonPath('', '1st'), '$["1st"]');
    const r = new JsonReader('MANIFEST_INVALID', '');
    assert.deepEqual(
      refusal(() => r.parse('{')),
      { code: 'MANIFEST_INVALID', path: '$' },
    );
    assert.deepEqual(
      refusal(() => r.object({ Packages: {}, Extra: 1 }, '', ['Packages'])),
      {
        code: 'MANIFEST_INVALID',
        path: 'Extra',
      },
    );
  });

  it('a member read as a member or as a value fails with the same code and path', () => {
    const j = new JsonReader('COLLATERAL_MALFORMED', 'tcbInfo');
    const o = { version: -1, id: 7, fmspc: 'zz', status: 'Old', levels: {}, issueDate: '2024-13-01T00:00:00Z' };
    const at = (key: string) => ({ code: 'COLLATERAL_MALFORMED', path: `tcbInfo.${key}` });
    assert.deepEqual(
      refusal(() => j.int(o, 'version')),
      at('version'),
    );
    assert.deepEqual(
      refusal(() => j.required(o, 'tcbInfo', 'version', (v, p) => j.asInteger(v, p))),
      at('version'),
    );
    assert.deepEqual(
      refusal(() => j.string(o, 'id')),
      at('id'),
    );
    assert.deepEqual(
      refusal(() => j.hex(o, 'fmspc', 1)),
      at('fmspc'),
    );
    assert.deepEqual(
      refusal(() => j.oneOf(o, 'status', ['UpToDate'])),
      at('status'),
    );
    assert.deepEqual(
      refusal(() => j.array(o, 'levels')),
      at('levels'),
    );
    assert.deepEqual(
      refusal(() => j.date(o, 'issueDate')),
      at('issueDate'),
    );
    assert.deepEqual(
      refusal(() => j.required(o, 'tcbInfo', 'absent', (v) => v)),
      at('absent'),
    );
    assert.deepEqual(
      refusal(() => j.list([1, 'a'], 'tcbInfo.l', (v, p) => j.asInteger(v, p))),
      {
        code: 'COLLATERAL_MALFORMED',
        path: 'tcbInfo.l[1]',
      },
    );
    assert.deepEqual(j.hex({ fmspc: '00A0' }, 'fmspc', 2), Uint8Array.of(0, 0xa0));
    assert.equal(j.asOneOf('uptodate', 'x', ['UpToDate'], true), 'UpToDate');
  });

  it('arbitrary JSON values: every read returns or throws the typed error with the reader code', () => {
    const j = new JsonReader('POLICY_INVALID', 'policy');
    const reads: Array<(v: unknown) => unknown> = [
      (v) => j.object(v, 'policy', ['a']),
      (v) => j.map(v, 'policy', (e, p) => j.asStrings(e, p)),
      (v) => j.list(v, 'policy', (e, p) => j.asHex(e, p, 2)),
      (v) => j.asName(v, 'policy'),
      (v) => j.asBoolean(v, 'policy'),
      (v) => j.asEntry(v, 'policy', { a: 1 }, 'thing'),
      (v) => j.date({ d: v }, 'd'),
    ];
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(reads.length - 1), (value, which) => {
        try {
          (reads[which] as (v: unknown) => unknown)(value);
        } catch (e) {
          assert.ok(e instanceof CloisterError && e.code === 'POLICY_INVALID', String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

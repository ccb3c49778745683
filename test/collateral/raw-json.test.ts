import fc from 'fast-check';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { extractRawMember } from '../../src/collateral/index.js';
import { CloisterError } from '../../src/lib/errors.js';

test('extractRawMember returns the exact text of a member: strings, escapes, nesting, whitespace', () => {
  const inner = '{"x":"}\\"{[\\\\","y":[1,{"z":"\\u0041"}, -0.0e+0 ],"w":"é😀"}';
  const body = ` \r\n{ "a" : 1 ,\n "tcbInfo"\t:\r\n ${inner}  , "signature":"ab" ,"n":null,"t" : true }\n`;
  assert.equal(extractRawMember(body, 'tcbInfo'), inner);
  assert.equal(extractRawMember(body, 'signature'), '"ab"');
  assert.equal(extractRawMember(body, 'a'), '1');
  assert.equal(extractRawMember(body, 'n'), 'null');
  assert.equal(extractRawMember(body, 't'), 'true');
  // Keys compare decoded, as JSON.parse does; nested members of the same name do not count.
  assert.equal(extractRawMember('{"tcb\\u0049nfo":[1, 2]}', 'tcbInfo'), '[1, 2]');
  assert.equal(extractRawMember('{"a":{"tcbInfo":1},"tcbInfo":2}', 'tcbInfo'), '2');
});

test('extractRawMember refuses bad JSON, non-objects, missing and duplicate members', () => {
  for (const body of [
    '',
    '{',
    '{"tcbInfo":1,}',
    '[{"tcbInfo":1}]',
    'null',
    '"tcbInfo"',
    '{}',
    '{"tcbinfo":1}',
    '{"tcbInfo":1,"tcbInfo":2}',
    '{"a":{"tcbInfo":1}}',
  ]) {
    assert.throws(
      () => extractRawMember(body, 'tcbInfo'),
      { name: 'CloisterError', code: 'COLLATERAL_RESPONSE_INVALID', field: 'tcbInfo' },
      JSON.stringify(body),
    );
  }
});

test('extractRawMember round trip: the member of any JSON object, however indented, is cut out intact', () => {
  fc.assert(
    fc.property(
      fc.jsonValue(),
      fc.jsonValue(),
      fc.jsonValue(),
      fc.constantFrom(0, 1, 2, '\t'),
      (before, value, after, indent) => {
        const body = JSON.stringify({ before, member: value, after }, null, indent);
        const raw = extractRawMember(body, 'member');
        assert.ok(body.includes(raw));
        assert.deepEqual(JSON.parse(raw), JSON.parse(JSON.stringify(value)));
        if (indent === 0) assert.equal(raw, JSON.stringify(value));
      },
    ),
  );
});

test('extractRawMember: arbitrary text only ever throws COLLATERAL_RESPONSE_INVALID', () => {
  const jsonish = fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', ' ', 'a', '1') });
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), jsonish), fc.string(), (body, name) => {
      try {
        assert.equal(typeof extractRawMember(body, name), 'string');
      } catch (e) {
        assert.ok(e instanceof CloisterError && e.code === 'COLLATERAL_RESPONSE_INVALID', String(e));
      }
    }),
  );
});

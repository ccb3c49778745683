import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ipAddressBytes } from '../../src/lib/ip.js';

/** WHATWG URL's canonical text of an IPv6 address: an independent parser to compare octets with. */
const canonicalIpv6 = (text: string): string => new URL(`http://[${text}]/`).hostname;
const hexGroups = (octets: Uint8Array): string =>
  Array.from({ length: 8 }, (_, i) =>
    (((octets[2 * i] as number) << 8) | (octets[2 * i + 1] as number)).toString(16),
  ).join(':');

describe('IP addresses without node:net', () => {
  it('known answers: IPv4, IPv6 with ::, with a trailing dotted quad, all zeros', () => {
    assert.deepEqual(ipAddressBytes('10.1.2.3'), Uint8Array.of(10, 1, 2, 3));
    assert.deepEqual(ipAddressBytes('0.0.0.0'), new Uint8Array(4));
    assert.deepEqual(ipAddressBytes('::'), new Uint8Array(16));
    assert.deepEqual(ipAddressBytes('::1'), Uint8Array.of(...new Array<number>(15).fill(0), 1));
    assert.deepEqual(
      ipAddressBytes('::ffff:192.0.2.1'),
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1),
    );
    assert.deepEqual(
      ipAddressBytes('2001:DB8:0:0:1:2:3:42'),
      Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0, 0x42),
    );
  });

  it('refused: out of range, leading zeros, zone ids, two ::, too many or too few groups, stray text', () => {
    for (const text of [
      '',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      ' 1.2.3.4',
      '1.2.3.4\n',
      '10.0.0.0/8',
      'localhost',
      'fe80::1%eth0',
      '1::2::3',
      ':1::',
      '1:2:3:4::5:6:7:8',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:1.2.3.4',
      '1.2.3.4::',
      '::1.2.3',
      '::00000',
      '[::1]',
    ])
      assert.equal(ipAddressBytes(text), undefined, JSON.stringify(text));
  });

  it('generated addresses: the octets are those another parser reads', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => assert.equal(ipAddressBytes(text)?.join('.'), text)),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const octets = ipAddressBytes(text);
        assert.equal(octets?.length, 16, text);
        assert.equal(canonicalIpv6(hexGroups(octets)), canonicalIpv6(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("arbitrary strings of an address's characters: accepted exactly when Node's isIP accepts them (less zone ids)", () => {
    const text = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%'), maxLength: 45 });
    const mutated = fc
      .oneof(fc.ipV6(), fc.ipV4())
      .chain((address) =>
        fc
          .tuple(fc.nat(address.length), fc.nat(3), text)
          .map(([at, cut, insert]) => address.slice(0, at) + insert.slice(0, cut) + address.slice(at + cut)),
      );
    fc.assert(
      fc.property(fc.oneof(text, mutated), (candidate) => {
        assert.equal(
          ipAddressBytes(candidate) !== undefined,
          isIP(candidate) !== 0 && !candidate.includes('%'),
          JSON.stringify(candidate),
        );
      }),
      { numRuns: 20_000 },
    );
  });
});

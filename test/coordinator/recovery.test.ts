import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CloisterError } from '../../src/lib/errors.js';
import { combine, split } from '../../src/coordinator/lib/shamir.js';
import {
  createRecovery,
  decodeRecoveryData,
  encodeRecoveryData,
  RecoverySession,
} from '../../src/coordinator/recovery.js';

/**
 * Recovery secrets as MarbleRun makes them: RSA-OAEP-SHA256 to each holder; one holder's secret is
 * the key, several XOR to it, a threshold takes Shamir shares; the session takes each holder's
 * secret once and refuses what no holder was given.
 */

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof CloisterError ? e.code : `not a CloisterError: ${String(e)}`;
  }
  return 'did not throw';
};

const holders = ['alice', 'bob', 'carol'].map((name) => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { name, pub: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(), key: pair.privateKey };
});
const keysOf = (n: number) => Object.fromEntries(holders.slice(0, n).map((h) => [h.name, h.pub]));
const decrypt = (key: KeyObject, secret: Uint8Array | undefined) =>
  new Uint8Array(
    privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret ?? new Uint8Array()),
  );

describe('Shamir shares (HashiCorp layout)', () => {
  it('any threshold of the shares gives the secret back; fewer do not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (secret, threshold, extra, seed) => {
          const shares = split(secret, threshold + extra, threshold);
          assert.ok(shares.every((s) => s.length === secret.length + 1));
          const start = seed % (extra + 1);
          assert.deepEqual(combine(shares.slice(start, start + threshold)), secret);
          if (secret.length >= 16) assert.notDeepEqual(combine(shares.slice(0, threshold - 1).concat()), secret);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses shares of different lengths or with a repeated coordinate', () => {
    const [a, b] = split(new Uint8Array(32).fill(7), 3, 2);
    assert.equal(
      code(() => combine([a ?? new Uint8Array(), (b ?? new Uint8Array()).subarray(1)])),
      'RECOVERY_SHARE_INVALID',
    );
    assert.equal(
      code(() => combine([a ?? new Uint8Array(), a ?? new Uint8Array()])),
      'RECOVERY_SHARE_INVALID',
    );
  });
});

describe('createRecovery and RecoverySession', () => {
  for (const [n, threshold, scheme] of [
    [1, undefined, 'single'],
    [3, undefined, 'xor'],
    [3, 3, 'xor'],
    [3, 2, 'shamir'],
  ] as const) {
    it(`${n} holders, threshold ${threshold ?? 'unset'}: ${scheme}, and the holders' decrypted secrets recombine the key`, () => {
      const { recoveryKey, secrets, data } = createRecovery(keysOf(n), threshold);
      assert.equal(data.scheme, scheme);
      const needed = threshold ?? n;
      assert.equal(data.threshold, needed);
      const session = new RecoverySession(data);
      const plain = holders.slice(0, n).map((h) => decrypt(h.key, secrets[h.name]));
      plain.slice(0, needed - 1).forEach((secret, i) => {
        const step = session.submit(secret);
        assert.equal(step.remaining, needed - 1 - i);
        assert.equal(step.recoveryKey, undefined);
      });
      const last = session.submit(plain[needed - 1] ?? new Uint8Array());
      assert.deepEqual(last.recoveryKey, recoveryKey);
      assert.equal(last.remaining, 0);
    });
  }

  it('refuses a forged secret, one of the wrong length, and the same holder twice', () => {
    const { secrets, data } = createRecovery(keysOf(3), 2);
    const session = new RecoverySession(data);
    assert.equal(
      code(() => session.submit(new Uint8Array(randomBytes(33)))),
      'RECOVERY_SHARE_INVALID',
    );
    assert.equal(
      code(() => session.submit(new Uint8Array(randomBytes(32)))),
      'RECOVERY_SHARE_INVALID',
    );
    const alice = decrypt(holders[0]?.key as KeyObject, secrets['alice']);
    assert.equal(session.submit(alice).holder, 'alice');
    assert.equal(
      code(() => session.submit(alice)),
      'RECOVERY_SHARE_USED',
    );
    // The encrypted secret itself (not decrypted) is no share.
    assert.equal(
      code(() => session.submit(secrets['bob'] ?? new Uint8Array())),
      'RECOVERY_SHARE_INVALID',
    );
    session.reset();
    assert.deepEqual(session.progress(), { accepted: [], remaining: 2, threshold: 2 });
  });

  it('a state without recovery keys cannot be recovered', () => {
    assert.equal(
      code(() => new RecoverySession(undefined).submit(new Uint8Array(32))),
      'RECOVERY_UNAVAILABLE',
    );
  });

  it('recovery data round-trips, and arbitrary bytes only ever give STATE_CORRUPT', () => {
    const { data } = createRecovery(keysOf(2), undefined);
    const decoded = decodeRecoveryData(encodeRecoveryData(data));
    assert.deepEqual({ ...decoded, shares: { ...decoded.shares } }, data);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array(),
          fc.json().map((t) => new TextEncoder().encode(t)),
        ),
        (bytes) => {
          const got = code(() => decodeRecoveryData(bytes));
          assert.ok(got === 'STATE_CORRUPT' || got === 'did not throw', got);
        },
      ),
    );
  });
});

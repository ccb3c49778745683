import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NONCE_LENGTH, NonceBook } from '../../src/coordinator/nonces.js';

/** Stateless activation nonces: what is redeemed once, and what is never. */

const NOW = 1_800_000_000;

test('a nonce is redeemed once, within its time to live', () => {
  const book = new NonceBook(120);
  const nonce = book.issue(NOW);
  assert.equal(nonce.length, NONCE_LENGTH);
  assert.equal(book.redeem(nonce, NOW + 60), true);
  assert.equal(book.redeem(nonce, NOW + 61), false, 'replayed');
  assert.equal(book.redeem(book.issue(NOW), NOW + 121), false, 'expired');
  assert.equal(book.redeem(book.issue(NOW + 30), NOW), false, 'from the future');
});

test('forged, edited, truncated and foreign nonces are refused', () => {
  const book = new NonceBook(120);
  const nonce = book.issue(NOW);
  for (let i = 0; i < nonce.length; i++) {
    const edited = new Uint8Array(nonce);
    edited[i] = (edited[i] ?? 0) ^ 1;
    assert.equal(book.redeem(edited, NOW), false, `byte ${i}`);
  }
  assert.equal(book.redeem(nonce.subarray(0, 40), NOW), false);
  assert.equal(book.redeem(new Uint8Array(NONCE_LENGTH), NOW), false);
  assert.equal(book.redeem(new NonceBook(120).issue(NOW), NOW), false, "another coordinator's");
  assert.equal(book.redeem(nonce, NOW), true, 'the original still works once');
});

test('outstanding: nonces issued, unexpired and not redeemed; a refused or replayed one changes nothing', () => {
  const book = new NonceBook(120);
  assert.equal(book.outstanding(NOW), 0);
  const [first, second] = [book.issue(NOW), book.issue(NOW + 10)];
  book.issue(NOW + 10);
  assert.equal(book.outstanding(NOW + 10), 3);
  assert.equal(book.redeem(first, NOW + 20), true);
  assert.equal(book.redeem(first, NOW + 21), false);
  const forged = new Uint8Array(second);
  forged[0] = (forged[0] ?? 0) ^ 1;
  assert.equal(book.redeem(forged, NOW + 21), false);
  assert.equal(book.outstanding(NOW + 21), 2);
  // NOW + 10's two expire after NOW + 130.
  assert.equal(book.outstanding(NOW + 130), 2);
  assert.equal(book.outstanding(NOW + 131), 0);
  assert.equal(book.redeem(second, NOW + 131), false, 'expired');
  assert.equal(book.outstanding(NOW + 131), 0);
});

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

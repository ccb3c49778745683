import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Activation nonces that cost the coordinator nothing until they are used: each is a time stamp,
 * 16 random bytes and an HMAC-SHA256 over both under a key of this coordinator's process, so it
 * can be checked without having been stored. Only redeemed nonces are remembered, until they
 * expire, which keeps them single use. Anyone may ask for nonces as fast as they like; none of
 * them takes memory, so no flood of requests can stop a legitimate activation.
 */

const STAMP = 8;
const RANDOM = 16;
const MAC = 32;
export const NONCE_LENGTH = STAMP + RANDOM + MAC;

export class NonceBook {
  private readonly key = randomBytes(32);
  /** Redeemed nonces (hex) and when they expire, Unix seconds. */
  private readonly redeemed = new Map<string, number>();
  private readonly ttl: number;
  /** How many nonces issued in each second (Unix) are not redeemed yet: at most TTL + 2 entries. */
  private readonly unredeemed = new Map<number, number>();

  constructor(ttlSeconds: number) {
    this.ttl = ttlSeconds;
  }

  private mac(body: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }

  /** A fresh nonce issued at `now` (Unix seconds). */
  issue(now: number): Uint8Array {
    const body = Buffer.alloc(STAMP + RANDOM);
    body.writeBigUInt64BE(BigInt(Math.floor(now)));
    randomBytes(RANDOM).copy(body, STAMP);
    const second = Math.floor(now);
    this.unredeemed.set(second, (this.unredeemed.get(second) ?? 0) + 1);
    for (const [stamp] of this.unredeemed) {
      // Seconds in the order they were issued: stop at the first live one.
      if (stamp + this.ttl >= now) break;
      this.unredeemed.delete(stamp);
    }
    return new Uint8Array(Buffer.concat([body, this.mac(body)]));
  }

  /**
   * Whether `nonce` was issued by this book, less than the TTL ago, and not redeemed before; it is
   * redeemed now in any case, so a refused activation cannot be retried with the same nonce.
   */
  redeem(nonce: Uint8Array, now: number): boolean {
    if (nonce.length !== NONCE_LENGTH) return false;
    const body = nonce.subarray(0, STAMP + RANDOM);
    if (!timingSafeEqual(this.mac(body), nonce.subarray(STAMP + RANDOM))) return false;
    const issued = Number(Buffer.from(body).readBigUInt64BE());
    if (issued > now + 1 || issued + this.ttl < now) return false;
    const id = Buffer.from(nonce).toString('hex');
    if (this.redeemed.has(id)) return false;
    for (const [used, expiry] of this.redeemed) {
      // Redeemed in about the order they expire: stop at the first live one (a straggler waits a pass).
      if (expiry >= now) break;
      this.redeemed.delete(used);
    }
    this.redeemed.set(id, issued + this.ttl);
    const left = this.unredeemed.get(issued);
    if (left !== undefined) this.unredeemed.set(issued, left - 1);
    return true;
  }

  /** How many nonces were issued, are unexpired at `now` and not redeemed yet (the metric of what clients hold). */
  outstanding(now: number): number {
    let total = 0;
    for (const [second, count] of this.unredeemed) {
      if (second + this.ttl < now) this.unredeemed.delete(second);
      else total += count;
    }
    return total;
  }
}

import { constants, createHash, publicEncrypt, randomBytes } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { combine, split } from './lib/shamir.js';

/**
 * Recovery keys as MarbleRun has them ("State and recovery", "Recovering the Coordinator"): when
 * a manifest names `RecoveryKeys`, the coordinator makes a recovery key that unlocks its state
 * key, and hands each key holder a secret encrypted to the holder's RSA key with RSA-OAEP-SHA256
 * (RFC 8017 §7.1). One holder: the secret is the recovery key. Several, with
 * `Config.RecoveryThreshold` unset or equal to their number: each gets 32 random bytes and the
 * recovery key is their XOR (all are needed). A smaller threshold: Shamir shares of it
 * (`lib/shamir.ts`), any threshold of which suffice. The coordinator keeps only the SHA-256 of
 * each secret, so that it can tell a holder's secret from a forged one before it has the key.
 * Pure: the edge keeps the recovery key's wrapping of the state key (store/state-key.ts).
 */

export const RECOVERY_KEY_LENGTH = 32;

export type RecoveryScheme = 'single' | 'xor' | 'shamir';

/** What a coordinator in recovery mode needs to accept the holders' secrets: nothing secret. */
export interface RecoveryData {
  scheme: RecoveryScheme;
  /** How many secrets recover the state. */
  threshold: number;
  /** SHA-256 (hex) of each holder's decrypted secret, by the holder's name in RecoveryKeys. */
  shares: Record<string, string>;
}

/** A fresh recovery key, its secret for each holder (encrypted to the holder), and the data to check them. */
export interface NewRecovery {
  recoveryKey: Uint8Array;
  /** MarbleRun's `RecoverySecrets`: each holder's secret, RSA-OAEP-SHA256 encrypted to the holder's key. */
  secrets: Record<string, Uint8Array>;
  data: RecoveryData;
}

const digest = (share: Uint8Array): string => createHash('sha256').update(share).digest('hex');

const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((byte, i) => byte ^ (b[i] ?? 0));

/**
 * Makes the recovery of a manifest's `RecoveryKeys` (PEM RSA public keys by holder name).
 *
 * @example
 * ```ts
 * const { recoveryKey, secrets, data } = createRecovery({ alice: alicePem, bob: bobPem }, 2);
 * ```
 */
export function createRecovery(keys: Readonly<Record<string, string>>, threshold: number | undefined): NewRecovery {
  const holders = Object.keys(keys);
  const count = holders.length;
  const needed = threshold !== undefined && threshold > 0 ? threshold : count;
  const scheme: RecoveryScheme = count === 1 ? 'single' : needed === count ? 'xor' : 'shamir';
  let recoveryKey: Uint8Array = new Uint8Array(randomBytes(RECOVERY_KEY_LENGTH));
  let shares: Uint8Array[];
  if (scheme === 'single') shares = [recoveryKey];
  else if (scheme === 'shamir') shares = split(recoveryKey, count, needed);
  else {
    shares = holders.map(() => new Uint8Array(randomBytes(RECOVERY_KEY_LENGTH)));
    recoveryKey = shares.reduce(xor, new Uint8Array(RECOVERY_KEY_LENGTH));
  }
  const secrets: Record<string, Uint8Array> = {};
  const hashes: Record<string, string> = {};
  holders.forEach((holder, i) => {
    const share = shares[i] ?? new Uint8Array();
    secrets[holder] = new Uint8Array(
      publicEncrypt({ key: keys[holder] ?? '', padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, share),
    );
    hashes[holder] = digest(share);
  });
  return { recoveryKey, secrets, data: { scheme, threshold: scheme === 'single' ? 1 : needed, shares: hashes } };
}

const reader = new JsonReader('STATE_CORRUPT', 'recovery');

/** RecoveryData as bytes (kept beside the sealed state, where a coordinator in recovery mode reads it). */
export function encodeRecoveryData(d: RecoveryData): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(d), 'utf8'));
}

/** Reads RecoveryData from JSON (a value already parsed) or its bytes: STATE_CORRUPT naming the field. */
export function decodeRecoveryData(value: unknown, path = 'recovery'): RecoveryData {
  const o = reader.object(
    value instanceof Uint8Array ? reader.parse(Buffer.from(value).toString('utf8')) : value,
    path,
    ['scheme', 'threshold', 'shares'],
  );
  const scheme = reader.required(o, path, 'scheme', (x, p) => reader.asOneOf(x, p, ['single', 'xor', 'shamir']));
  const threshold = reader.required(o, path, 'threshold', (x, p) => reader.asInteger(x, p, 255));
  const shares = reader.map(o['shares'], `${path}.shares`, (x, p) => {
    const text = reader.asString(x, p);
    if (!/^[0-9a-f]{64}$/.test(text)) throw reader.fail(p, 'not a SHA-256 in lowercase hex');
    return text;
  });
  return { scheme: scheme as RecoveryScheme, threshold, shares };
}

/** Where a recovery stands after one more secret. */
export interface RecoveryProgress {
  /** The holder whose secret this was. */
  holder: string;
  /** Secrets still needed. */
  remaining: number;
  /** The recovery key, once enough secrets came. */
  recoveryKey?: Uint8Array;
}

/**
 * The secrets uploaded to a coordinator in recovery mode, checked one by one against the hashes
 * of the recovery data (a secret of no holder is refused at once, as is one uploaded twice).
 *
 * @example
 * ```ts
 * const session = new RecoverySession(data);
 * const { remaining, recoveryKey } = session.submit(secret);
 * ```
 */
export class RecoverySession {
  private readonly data: RecoveryData | undefined;
  private accepted = new Map<string, Uint8Array>();

  constructor(data: RecoveryData | undefined) {
    this.data = data;
  }

  /** Holders whose secrets were accepted so far, and how many are still needed. */
  progress(): { accepted: string[]; remaining: number; threshold: number } {
    const threshold = this.data?.threshold ?? 0;
    return { accepted: [...this.accepted.keys()], remaining: threshold - this.accepted.size, threshold };
  }

  /** Forgets the secrets accepted so far (after they combined to a key that opened nothing). */
  reset(): void {
    this.accepted = new Map();
  }

  submit(secret: Uint8Array): RecoveryProgress {
    const data = this.data;
    if (!data)
      throw new CloisterError(
        'RECOVERY_UNAVAILABLE',
        'the sealed state has no recovery keys (its manifest named no RecoveryKeys): it cannot be recovered',
      );
    const length = RECOVERY_KEY_LENGTH + (data.scheme === 'shamir' ? 1 : 0);
    if (secret.length !== length)
      throw new CloisterError(
        'RECOVERY_SHARE_INVALID',
        `a recovery secret of this state is ${length} bytes, this one has ${secret.length} (upload the decrypted secret)`,
        { expected: length, actual: secret.length },
      );
    const hash = digest(secret);
    const holder = Object.keys(data.shares).find((name) => data.shares[name] === hash);
    if (holder === undefined)
      throw new CloisterError(
        'RECOVERY_SHARE_INVALID',
        'this recovery secret is not one issued to a holder of this state',
      );
    if (this.accepted.has(holder))
      throw new CloisterError('RECOVERY_SHARE_USED', `the recovery secret of "${holder}" was already uploaded`);
    this.accepted.set(holder, secret);
    const remaining = data.threshold - this.accepted.size;
    if (remaining > 0) return { holder, remaining };
    const given = [...this.accepted.values()];
    const recoveryKey =
      data.scheme === 'shamir'
        ? combine(given)
        : data.scheme === 'xor'
          ? given.reduce(xor, new Uint8Array(RECOVERY_KEY_LENGTH))
          : secret;
    return { holder, remaining: 0, recoveryKey };
  }
}

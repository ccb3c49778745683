import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { decodePayload, encodePayload, type ActivationPayload } from './messages.js';

/**
 * What the coordinator releases to an activated workload (secrets, volume keys) is encrypted to
 * the workload's attested P-256 key, so only the program whose evidence bound that key can read
 * it, whoever relays the connection (ECIES: ephemeral ECDH P-256, HKDF-SHA256 (RFC 5869),
 * AES-256-GCM (NIST SP 800-38D)). The activation nonce is the HKDF salt.
 */

const INFO = Buffer.from('cloister activation payload v1');

export interface SealedPayload {
  /** SPKI DER of the coordinator's ephemeral key, base64. */
  ephemeralKey: string;
  iv: string;
  /** AES-256-GCM ciphertext ‖ tag, base64. */
  ciphertext: string;
}

function key(shared: Buffer, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, salt, INFO, 32));
}

/**
 * The workload's key as a key object: SPKI DER of an ECDSA P-256 key, else REQUEST_INVALID. The
 * coordinator checks this before it counts an activation, so a key it could not seal to costs
 * nothing.
 *
 * @example
 * ```ts
 * workloadKey(request.publicKey); // throws for a P-384 or RSA key
 * ```
 */
export function workloadKey(spki: Uint8Array): KeyObject {
  let peer: KeyObject;
  try {
    peer = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new CloisterError('REQUEST_INVALID', 'publicKey: not a DER SubjectPublicKeyInfo', { cause });
  }
  if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new CloisterError(
      'REQUEST_INVALID',
      `publicKey: must be an ECDSA P-256 key (got ${peer.asymmetricKeyType ?? 'unknown'} ${peer.asymmetricKeyDetails?.namedCurve ?? ''})`.trim(),
    );
  return peer;
}

/**
 * Encrypts `payload` to the workload key `spki` (SPKI DER, P-256).
 *
 * @example
 * ```ts
 * const sealed = sealTo(request.publicKey, request.nonce, Buffer.from(JSON.stringify(secrets)));
 * ```
 */
export function sealTo(spki: Uint8Array, salt: Uint8Array, payload: Uint8Array): SealedPayload {
  const peer = workloadKey(spki);
  const eph = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const iv = randomBytes(12);
  const cipher = createCipheriv(
    'aes-256-gcm',
    key(diffieHellman({ privateKey: eph.privateKey, publicKey: peer }), salt),
    iv,
  );
  const ciphertext = Buffer.concat([cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
  return {
    ephemeralKey: eph.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    iv: iv.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

/**
 * Decrypts a payload sealed to the workload's key (PKCS#8 DER).
 *
 * @example
 * ```ts
 * const secrets = JSON.parse(Buffer.from(openSealed(pkcs8, nonce, response.sealed)).toString());
 * ```
 */
export function openSealed(pkcs8: Uint8Array, salt: Uint8Array, s: SealedPayload): Uint8Array {
  try {
    const privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey({ key: Buffer.from(s.ephemeralKey, 'base64'), format: 'der', type: 'spki' });
    const data = Buffer.from(s.ciphertext, 'base64');
    const decipher = createDecipheriv(
      'aes-256-gcm',
      key(diffieHellman({ privateKey, publicKey }), salt),
      Buffer.from(s.iv, 'base64'),
    );
    decipher.setAuthTag(data.subarray(data.length - 16));
    return new Uint8Array(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]));
  } catch (cause) {
    throw new CloisterError('COORDINATOR_ERROR', "the activation payload does not decrypt with this workload's key", {
      cause,
    });
  }
}

const payloadJson = new JsonReader('COORDINATOR_ERROR', 'payload');

/**
 * The activation payload sealed to the workload's key, the nonce as salt.
 *
 * @example
 * ```ts
 * const sealed = sealPayload(request.publicKey, request.nonce, { secrets, volumes });
 * ```
 */
export function sealPayload(spki: Uint8Array, nonce: Uint8Array, payload: ActivationPayload): SealedPayload {
  return sealTo(spki, nonce, Buffer.from(JSON.stringify(encodePayload(payload)), 'utf8'));
}

/**
 * Opens and decodes an activation payload with the workload's private key (PKCS#8 DER).
 *
 * @example
 * ```ts
 * const { secrets, volumes } = openPayload(pkcs8, nonce, response.sealed);
 * ```
 */
export function openPayload(pkcs8: Uint8Array, nonce: Uint8Array, sealed: SealedPayload): ActivationPayload {
  const plaintext = Buffer.from(openSealed(pkcs8, nonce, sealed)).toString('utf8');
  return decodePayload(payloadJson.parse(plaintext, 'payload'));
}

import { generateKeyPairSync } from 'node:crypto';
import { createCa, issueLeaf, pemCert, pemPrivateKey } from '../../src/pki/index.js';

/** A user certificate and key (PEM) of a CA of its own, for the Users of test manifests. */
export async function userCert(
  name: string,
  validity: { now?: number; validDays?: number } = {},
): Promise<{ cert: string; key: string }> {
  const now = validity.now ?? Date.now() / 1000;
  const ca = await createCa({ now, name: `users ${name}` });
  const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = await issueLeaf(ca, {
    publicKey: new Uint8Array(k.publicKey.export({ format: 'der', type: 'spki' })),
    commonName: name,
    now,
    ...(validity.validDays ? { validDays: validity.validDays } : {}),
  });
  return {
    cert: pemCert(der),
    key: pemPrivateKey(new Uint8Array(k.privateKey.export({ format: 'der', type: 'pkcs8' }))),
  };
}

export const adminCert = () => userCert('admin');

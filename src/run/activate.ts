import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { bindingReportData, type VolumeGrant } from '../coordinator/coordinator.js';
import { openSealed } from '../coordinator/seal.js';
import { base64Member, decodeFileRecords, decodeSecret } from '../coordinator/state.js';
import { parseManifest, renderParameters, type Rendered } from '../manifest/index.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { pemPrivateKey } from '../pki/index.js';
import type { EvidenceSource } from './evidence.js';

/**
 * The workload side of activation: a fresh key pair, a coordinator nonce, evidence whose report
 * data binds both, the activation call, and rendering of the service's parameters with the
 * workload's own private key (which never leaves it).
 */

export interface Mesh {
  post(path: string, body: unknown): Promise<unknown>;
}

export interface Activated {
  rendered: Rendered;
  /** PEM leaf ‖ intermediate ‖ root. */
  certChain: string;
  rootCa: string;
  privateKey: string;
  instanceId: string;
  simulation: boolean;
  tcbStatus: string;
  /** Volumes this service may open. */
  volumes: Record<string, VolumeGrant>;
}

/** A volume grant from its JSON form (also what `GET /api/v1/volumes/key` answers). */
export function decodeGrant(v: unknown, path: string): VolumeGrant {
  const o = j.object(v, path);
  const files = decodeFileRecords(j, o['files'], `${path}.files`);
  return {
    mode: j.oneOf(o, 'mode', ['read-only', 'read-write'] as const, path),
    key: base64Member(j, o, 'key', path),
    files,
    sealed: j.string(o, 'sealed', path),
    path: j.string(o, 'path', path),
  };
}

const j = new JsonReader('COORDINATOR_ERROR', 'activation');

/**
 * Activates `service` with the coordinator behind `mesh`.
 *
 * @example
 * ```ts
 * const a = await activate(mesh, simEvidence(platform, { mrEnclave }), { service: 'backend' });
 * ```
 */
export async function activate(
  mesh: Mesh,
  evidence: EvidenceSource,
  o: { service: string; instanceId?: string | undefined; dnsNames?: string[] | undefined },
): Promise<Activated> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' }));
  const pkcs8 = new Uint8Array(keys.privateKey.export({ format: 'der', type: 'pkcs8' }));
  const nonce = base64Member(j, j.object(await mesh.post('/mesh/v1/nonce', {})), 'nonce', 'nonce');
  const quote = await evidence.quote(bindingReportData(spki, nonce));
  const instanceId = o.instanceId ?? randomUUID();
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  const res = j.object(
    await mesh.post('/mesh/v1/activate', {
      service: o.service,
      instanceId,
      nonce: b64(nonce),
      evidence: b64(quote),
      publicKey: b64(spki),
      ...(o.dnsNames?.length ? { dnsNames: o.dnsNames } : {}),
    }),
  );
  const certChain = j.string(res, 'certChain');
  const rootCa = j.string(res, 'rootCa');
  const sealed = j.object(res['sealed'], 'activation.sealed');
  const payload = j.object(
    j.parse(
      Buffer.from(
        openSealed(pkcs8, nonce, {
          ephemeralKey: j.string(sealed, 'ephemeralKey', 'activation.sealed'),
          iv: j.string(sealed, 'iv', 'activation.sealed'),
          ciphertext: j.string(sealed, 'ciphertext', 'activation.sealed'),
        }),
      ).toString('utf8'),
      'activation.payload',
    ),
    'activation.payload',
  );
  const secrets = Object.fromEntries(
    Object.entries(j.object(payload['secrets'], 'activation.secrets')).map(([k, v]) => [
      k,
      decodeSecret(j, v, `activation.secrets.${k}`),
    ]),
  );
  const volumes = Object.fromEntries(
    Object.entries(j.object(payload['volumes'], 'activation.volumes')).map(([k, v]) => [
      k,
      decodeGrant(v, `activation.volumes.${k}`),
    ]),
  );
  const [leaf] = pemCertificates(certChain, 'activation.certChain');
  const [root] = pemCertificates(rootCa, 'activation.rootCa');
  if (!leaf || !root) throw new CloisterError('COORDINATOR_ERROR', 'activation: certificate chain missing');
  const { manifest } = parseManifest(base64Member(j, res, 'manifest', 'activation'));
  const rendered = renderParameters(manifest, o.service, { secrets, rootCa: root, marbleCert: leaf, marbleKey: pkcs8 });
  return {
    rendered,
    certChain,
    rootCa,
    privateKey: pemPrivateKey(pkcs8),
    instanceId,
    simulation: res['simulation'] === true,
    tcbStatus: String(res['tcbStatus']),
    volumes,
  };
}

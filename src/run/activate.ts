import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { parseManifest, renderParameters, type Rendered } from '../manifest/index.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { pemCert, pemPrivateKey } from '../pki/index.js';
import {
  bindingReportData,
  decodeActivationResponse,
  decodeNonce,
  encodeActivationRequest,
  openPayload,
  type VolumeGrant,
} from '../protocol/index.js';
import type { EvidenceProvider } from '../evidence/provider.js';

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
  /** PEM leaf ‖ intermediate: MarbleRun's MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN. */
  marbleChain: string;
  rootCa: string;
  privateKey: string;
  instanceId: string;
  simulation: boolean;
  tcbStatus: string;
  /** Volumes this service may open. */
  volumes: Record<string, VolumeGrant>;
}

export interface ActivateOptions {
  service: string;
  instanceId?: string | undefined;
  dnsNames?: string[] | undefined;
  ipAddresses?: string[] | undefined;
}

/**
 * Activates `service` with the coordinator behind `mesh`.
 *
 * @example
 * ```ts
 * const a = await activate(mesh, simEvidence(platform, { mrEnclave }), { service: 'backend' });
 * ```
 */
export async function activate(mesh: Mesh, evidence: EvidenceProvider, options: ActivateOptions): Promise<Activated> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKey = new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' }));
  const pkcs8 = new Uint8Array(keys.privateKey.export({ format: 'der', type: 'pkcs8' }));
  const nonce = decodeNonce(await mesh.post('/mesh/v1/nonce', {}));
  const instanceId = options.instanceId ?? randomUUID();
  const request = {
    service: options.service,
    instanceId,
    nonce,
    evidence: await evidence.quote(bindingReportData(publicKey, nonce)),
    publicKey,
    ...(options.dnsNames ? { dnsNames: options.dnsNames } : {}),
    ...(options.ipAddresses ? { ipAddresses: options.ipAddresses } : {}),
  };
  const response = decodeActivationResponse(await mesh.post('/mesh/v1/activate', encodeActivationRequest(request)));
  const { secrets, volumes, previousSecrets } = openPayload(pkcs8, nonce, response.sealed);
  const [leaf, intermediate] = pemCertificates(response.certChain, 'activation.certChain');
  const [root] = pemCertificates(response.rootCa, 'activation.rootCa');
  if (!leaf || !intermediate || !root)
    throw new CloisterError('COORDINATOR_ERROR', 'activation: certificate chain missing');
  const { manifest } = parseManifest(response.manifest);
  const rendered = renderParameters(manifest, options.service, {
    secrets,
    ...(previousSecrets ? { previousSecrets } : {}),
    rootCa: root,
    marbleCert: leaf,
    marbleKey: pkcs8,
    coordinatorRoot: root,
    coordinatorIntermediate: intermediate,
  });
  return {
    rendered,
    certChain: response.certChain,
    marbleChain: pemCert(leaf) + pemCert(intermediate),
    rootCa: response.rootCa,
    privateKey: pemPrivateKey(pkcs8),
    instanceId,
    simulation: response.simulation,
    tcbStatus: response.tcbStatus,
    volumes,
  };
}

import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { pemCert } from '../pki/index.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { RecoveryMode } from '../coordinator/recovery-mode.js';
import {
  decodeActivationRequest,
  decodeCommit,
  decodeRegistration,
  decodeSecrets,
  encodeActivationResponse,
  encodeGrant,
  encodeSecrets,
} from '../protocol/index.js';
import type { Handler, Request } from './http.js';
import { OPENAPI } from './openapi.js';

/**
 * The coordinator's two APIs as route tables: the client API (status, quote, manifest,
 * certificates, secrets) and the mesh API (activation nonce and activation). Bodies are the
 * messages of protocol/, decoded (and so validated) there.
 */

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const body = new JsonReader('REQUEST_INVALID', 'body');

function secretNames(req: Request): string[] {
  const names = req.query.getAll('s');
  if (names.length === 0)
    throw new CloisterError('REQUEST_INVALID', 'name the secrets to read with ?s=NAME (repeatable)');
  return names;
}

/** The coordinator's evidence for a client's nonce (both APIs serve it: workloads attest the coordinator too). */
const quote =
  (c: Coordinator | RecoveryMode): Handler =>
  async (req) => {
    const nonce = req.query.get('nonce') ?? '';
    if (!/^([0-9a-fA-F]{2}){0,64}$/.test(nonce))
      throw new CloisterError('REQUEST_INVALID', 'nonce: up to 64 bytes of hex');
    const { evidence, collateral } = await c.quote(new Uint8Array(Buffer.from(nonce, 'hex')));
    return {
      json: {
        ...c.status(),
        evidence: b64(evidence),
        collateral,
        root: pemCert(c.ca.rootCert),
        intermediate: pemCert(c.ca.intermediateCert),
      },
    };
  };

export function clientApi(c: Coordinator): Record<string, Handler> {
  return {
    'GET /api/v1/status': () => ({ json: c.status() }),
    'GET /api/v1/quote': quote(c),
    'GET /api/v1/manifest': () => {
      const m = c.manifest();
      return { json: { fingerprint: m.fingerprint, manifest: b64(m.raw) } };
    },
    'POST /api/v1/manifest': async (req) => ({ json: await c.setManifest(req.body) }),
    'GET /api/v1/history': () => ({ json: c.history() }),
    'GET /api/v1/recovery': () => ({ json: { RecoverySecrets: c.recoverySecrets() } }),
    'POST /api/v1/update': async (req) => ({ json: await c.applyUpdate(req.clientCert, req.body) }),
    'GET /api/v1/update': () => {
      const { manifest, ...status } = c.updateStatus();
      return { json: { ...status, manifest: b64(manifest) } };
    },
    'POST /api/v1/update/acknowledge': async (req) => ({ json: await c.acknowledgeUpdate(req.clientCert, req.body) }),
    'POST /api/v1/update/cancel': async (req) => {
      await c.cancelUpdate(req.clientCert);
      return { status: 204, text: '', type: 'text/plain' };
    },
    'GET /api/v1/certificate': () => ({
      text: `${pemCert(c.ca.intermediateCert)}${pemCert(c.ca.rootCert)}`,
      type: 'application/x-pem-file',
    }),
    'GET /api/v1/secrets': (req) => ({ json: encodeSecrets(c.readSecrets(req.clientCert, secretNames(req))) }),
    'POST /api/v1/secrets': async (req) => {
      await c.writeSecrets(req.clientCert, decodeSecrets(body, req.json(), 'body'));
      return { status: 204, text: '', type: 'text/plain' };
    },
    'GET /api/v1/volumes/key': (req) => {
      const action =
        req.query.get('action') === 'seal'
          ? 'SealVolume'
          : req.query.get('action') === 'open'
            ? 'OpenVolume'
            : undefined;
      if (!action) throw new CloisterError('REQUEST_INVALID', 'action: seal or open');
      return { json: encodeGrant(c.volumeKey(req.clientCert, req.query.get('volume') ?? '', action)) };
    },
    'POST /api/v1/volumes/register': async (req) => {
      const { volume, files } = decodeRegistration(req.json());
      await c.registerVolume(req.clientCert, volume, files);
      return { status: 204, text: '', type: 'text/plain' };
    },
    'GET /api/v1/openapi.json': () => ({ json: OPENAPI }),
  };
}

/**
 * The mesh API. `activated`, when given, hears of every activation request: the service it named
 * (undefined when the request did not decode) and `activated` or the refusal's error code.
 */
export function meshApi(
  c: Coordinator,
  activated?: (service: string | undefined, result: string) => void,
): Record<string, Handler> {
  return {
    'POST /mesh/v1/nonce': () => ({ json: { nonce: b64(c.nonce()) } }),
    'GET /mesh/v1/quote': quote(c),
    'POST /mesh/v1/activate': async (req) => {
      let service: string | undefined;
      try {
        const request = decodeActivationRequest(req.json());
        service = request.service;
        const { response } = await c.activate(request);
        activated?.(service, 'activated');
        return { json: encodeActivationResponse(response) };
      } catch (error) {
        activated?.(service, error instanceof CloisterError ? error.code : 'INTERNAL');
        throw error;
      }
    },
    'POST /mesh/v1/volumes/commit': async (req) => {
      const { volume, changes } = decodeCommit(req.json());
      return { json: { files: await c.commitFiles(req.clientCert, volume, changes) } };
    },
  };
}

/**
 * What a coordinator in recovery mode serves: its status (which says so), its evidence, and the
 * upload of a key holder's decrypted recovery secret (the raw bytes as the body).
 */
export function recoveryApi(r: RecoveryMode): { client: Record<string, Handler>; mesh: Record<string, Handler> } {
  return {
    client: {
      'GET /api/v1/status': () => ({ json: r.status() }),
      'GET /api/v1/quote': quote(r),
      'POST /api/v1/recover': async (req) => ({ json: await r.submit(req.body) }),
    },
    mesh: { 'GET /mesh/v1/quote': quote(r) },
  };
}

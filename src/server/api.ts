import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { certChain, pemCert } from '../pki/index.js';
import type { Coordinator, VolumeGrant } from '../coordinator/coordinator.js';
import { sealTo } from '../coordinator/seal.js';
import {
  base64Member,
  decodeFileRecords,
  decodeSecret as decodeSecretJson,
  encodeSecret,
} from '../coordinator/state.js';
import type { Handler, Request } from './http.js';
import { OPENAPI } from './openapi.js';

/**
 * The coordinator's two APIs as route tables: the client API (status, quote, manifest,
 * certificates, secrets) and the mesh API (activation nonce and activation). Values are JSON;
 * byte strings base64; certificates PEM.
 */

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const j = new JsonReader('REQUEST_INVALID', 'body');

const bytes = (o: Record<string, unknown>, key: string) => base64Member(j, o, key, 'body');
const decodeSecret = (value: unknown, path: string) => decodeSecretJson(j, value, path);

/** A volume grant as JSON (the key in base64). */
function grantJson(v: VolumeGrant): Record<string, unknown> {
  return { mode: v.mode, key: b64(v.key), files: v.files, sealed: v.sealed, path: v.path };
}

function secretNames(req: Request): string[] {
  const names = req.query.getAll('s');
  if (names.length === 0)
    throw new CloisterError('REQUEST_INVALID', 'name the secrets to read with ?s=NAME (repeatable)');
  return names;
}

export function clientApi(c: Coordinator): Record<string, Handler> {
  return {
    'GET /api/v1/status': () => ({ json: c.status() }),
    'GET /api/v1/quote': async (req) => {
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
    },
    'GET /api/v1/manifest': () => {
      const m = c.manifest();
      return { json: { fingerprint: m.fingerprint, manifest: b64(m.raw) } };
    },
    'POST /api/v1/manifest': async (req) => ({ json: { fingerprint: await c.setManifest(req.body) } }),
    'GET /api/v1/certificate': () => ({
      text: `${pemCert(c.ca.intermediateCert)}${pemCert(c.ca.rootCert)}`,
      type: 'application/x-pem-file',
    }),
    'GET /api/v1/secrets': (req) => ({
      json: Object.fromEntries(
        Object.entries(c.readSecrets(req.clientCert, secretNames(req))).map(([k, v]) => [k, encodeSecret(v)]),
      ),
    }),
    'POST /api/v1/secrets': async (req) => {
      const o = j.object(req.json());
      await c.writeSecrets(
        req.clientCert,
        Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decodeSecret(v, `body.${k}`)])),
      );
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
      return { json: grantJson(c.volumeKey(req.clientCert, req.query.get('volume') ?? '', action)) };
    },
    'POST /api/v1/volumes/register': async (req) => {
      const o = j.object(req.json());
      await c.registerVolume(req.clientCert, j.string(o, 'volume'), decodeFileRecords(j, o['files'], 'body.files'));
      return { status: 204, text: '', type: 'text/plain' };
    },
    'GET /api/v1/openapi.json': () => ({ json: OPENAPI }),
  };
}

export function meshApi(c: Coordinator): Record<string, Handler> {
  return {
    'POST /mesh/v1/nonce': () => ({ json: { nonce: b64(c.nonce()) } }),
    'POST /mesh/v1/activate': async (req) => {
      const o = j.object(req.json());
      const list = (key: string) =>
        j.has(o, key)
          ? j.array(o, key).map((v, i) =>
              typeof v === 'string'
                ? v
                : (() => {
                    throw j.fail(`body.${key}[${i}]`, 'must be a string');
                  })(),
            )
          : undefined;
      const dnsNames = list('dnsNames');
      const ipAddresses = list('ipAddresses');
      const a = await c.activate({
        service: j.string(o, 'service'),
        instanceId: j.string(o, 'instanceId'),
        nonce: bytes(o, 'nonce'),
        evidence: bytes(o, 'evidence'),
        publicKey: bytes(o, 'publicKey'),
        ...(dnsNames ? { dnsNames } : {}),
        ...(ipAddresses ? { ipAddresses } : {}),
      });
      // Secrets and volume keys travel encrypted to the workload's attested key.
      const payload = {
        secrets: Object.fromEntries(Object.entries(a.secrets).map(([k, v]) => [k, encodeSecret(v)])),
        volumes: Object.fromEntries(Object.entries(a.volumes).map(([k, v]) => [k, grantJson(v)])),
      };
      return {
        json: {
          certChain: certChain(c.ca, a.cert),
          rootCa: pemCert(a.root),
          manifest: b64(a.manifest),
          sealed: sealTo(bytes(o, 'publicKey'), bytes(o, 'nonce'), Buffer.from(JSON.stringify(payload))),
          tcbStatus: a.verdict.tcbStatus,
          simulation: a.verdict.simulation,
        },
      };
    },
    'POST /mesh/v1/volumes/commit': async (req) => {
      const o = j.object(req.json());
      const changes = j.array(o, 'changes').map((x, i) => {
        const p = `body.changes[${i}]`;
        const co = j.object(x, p);
        return {
          path: j.string(co, 'path', p),
          expectedVersion: j.int(co, 'expectedVersion', p),
          root: j.string(co, 'root', p),
        };
      });
      return { json: { files: await c.commitFiles(req.clientCert, j.string(o, 'volume'), changes) } };
    },
  };
}

import { JsonReader, type JsonObject } from '../lib/json.js';
import type { SecretValue } from '../pki/index.js';
import { pathProblem } from '../protect/index.js';
import type { SealedPayload } from './seal.js';

/**
 * The messages of the mesh API (workload ↔ coordinator) and the values the client API shares with
 * it, as JSON: byte strings base64, certificates PEM. Every decoder checks every field it reads
 * and names the JSON path of what is wrong; requests decode with REQUEST_INVALID (the coordinator
 * refuses them), responses with COORDINATOR_ERROR (the workload refuses the coordinator's answer).
 * How the coordinator stores its state is its own business (coordinator/state.ts).
 */

/** A protected file's record on the coordinator: its version and the root of its sealed form. */
export interface FileRecord {
  version: number;
  /** Lowercase hex SHA-256 root of the sealed file. */
  root: string;
}

/** What a service (or a user with a Volumes role) receives for one protected volume. */
export interface VolumeGrant {
  mode: 'read-only' | 'read-write';
  /** The volume key (32 bytes). */
  key: Uint8Array;
  /** By volume path (`/`-separated, relative). */
  files: Record<string, FileRecord>;
  /** Where the sealed form lives in the workload's file system (relative: from its working folder). */
  sealed: string;
  /** Where the plaintext is unlocked. */
  path: string;
}

/** `POST /mesh/v1/activate`: the workload's evidence binds `publicKey` and `nonce`. */
export interface ActivationRequest {
  service: string;
  instanceId: string;
  nonce: Uint8Array;
  evidence: Uint8Array;
  /** SPKI DER of the workload's key. */
  publicKey: Uint8Array;
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** The answer to an activation. The secrets and volume keys are in `sealed`, for the workload's key only. */
export interface ActivationResponse {
  /** PEM leaf ‖ intermediate ‖ root. */
  certChain: string;
  /** PEM root of the coordinator. */
  rootCa: string;
  /** The manifest's exact bytes: the workload renders its parameters with its own private key. */
  manifest: Uint8Array;
  sealed: SealedPayload;
  tcbStatus: string;
  simulation: boolean;
}

/** The plaintext of {@link ActivationResponse.sealed}. */
export interface ActivationPayload {
  /** The secrets the service's templates reference. */
  secrets: Record<string, SecretValue>;
  /** The volumes the service may open. */
  volumes: Record<string, VolumeGrant>;
  /** Those secrets as they were before the last manifest update (MarbleRun's `.Previous.Secrets`). */
  previousSecrets?: Record<string, SecretValue>;
}

/** One file of a `POST /mesh/v1/volumes/commit`: compare-and-swap on its version. */
export interface FileChange {
  path: string;
  expectedVersion: number;
  root: string;
}

const SECRET_TYPES = ['symmetric-key', 'cert-rsa', 'cert-ecdsa', 'cert-ed25519', 'plain'] as const;
const SECRET_BYTES = ['key', 'cert', 'private', 'public'] as const;
/** At most this many DNS names or IP addresses in one activation request. */
const MAX_NAMES = 64;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const requests = new JsonReader('REQUEST_INVALID', 'body');
const responses = new JsonReader('COORDINATOR_ERROR', 'response');

/** A secret as JSON: its type and base64 byte strings. */
export function encodeSecret(s: SecretValue): Record<string, string> {
  const out: Record<string, string> = { type: s.type };
  for (const field of SECRET_BYTES) if (s[field]) out[field] = b64(s[field]);
  return out;
}

/** A secret from its JSON form; errors carry `r`'s code and the JSON path. */
export function decodeSecret(r: JsonReader, value: unknown, path: string): SecretValue {
  const o = r.object(value, path, ['type', ...SECRET_BYTES]);
  const secret: SecretValue = { type: r.oneOf(o, 'type', SECRET_TYPES, path) };
  for (const field of SECRET_BYTES) if (r.has(o, field)) secret[field] = r.base64(o, field, path);
  return secret;
}

export function encodeSecrets(secrets: Record<string, SecretValue>): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(secrets).map(([name, s]) => [name, encodeSecret(s)]));
}

export function decodeSecrets(r: JsonReader, value: unknown, path: string): Record<string, SecretValue> {
  return r.map(value, path, (v, p) => decodeSecret(r, v, p));
}

/** A volume path: a canonical relative path (protect's rule), never absolute or escaping with `..`. */
function volumePath(r: JsonReader, value: unknown, path: string): string {
  const problem = pathProblem(value);
  if (problem !== undefined) throw r.fail(path, `not a volume path: ${problem}`);
  return value as string;
}

/** File records (`{ path: { version, root } }`), checked: canonical paths, safe versions, 32-byte hex roots. */
export function decodeFileRecords(r: JsonReader, value: unknown, path: string): Record<string, FileRecord> {
  const files = r.map(value, path, (v, p, name) => {
    volumePath(r, name, p);
    const o = r.object(v, p, ['version', 'root']);
    const root = r.asHex(o['root'], `${p}.root`, 32);
    return { version: r.int(o, 'version', p), root: root.toLowerCase() };
  });
  return { ...files };
}

export function encodeGrant(g: VolumeGrant): JsonObject {
  return { mode: g.mode, key: b64(g.key), files: g.files, sealed: g.sealed, path: g.path };
}

/**
 * A folder of the workload's file system as the manifest allows it (relative paths are taken from
 * the service's working folder): not empty, no NUL, no `..` segment.
 */
function folderPath(r: JsonReader, value: unknown, path: string): string {
  const s = r.asName(value, path);
  if (s.includes('\0') || s.split(/[\\/]/).includes('..'))
    throw r.fail(path, `must be a folder path without ".." segments (got ${JSON.stringify(s)})`);
  return s;
}

/** A volume grant from its JSON form (in an activation payload, or `GET /api/v1/volumes/key`). */
export function decodeGrant(r: JsonReader, value: unknown, path: string): VolumeGrant {
  const o = r.object(value, path, ['mode', 'key', 'files', 'sealed', 'path']);
  const key = r.base64(o, 'key', path);
  if (key.length !== 32) throw r.fail(`${path}.key`, `must be 32 bytes (got ${key.length})`);
  return {
    mode: r.oneOf(o, 'mode', ['read-only', 'read-write'] as const, path),
    key,
    files: decodeFileRecords(r, o['files'], `${path}.files`),
    sealed: folderPath(r, o['sealed'], `${path}.sealed`),
    path: folderPath(r, o['path'], `${path}.path`),
  };
}

export function encodeActivationRequest(a: ActivationRequest): JsonObject {
  return {
    service: a.service,
    instanceId: a.instanceId,
    nonce: b64(a.nonce),
    evidence: b64(a.evidence),
    publicKey: b64(a.publicKey),
    ...(a.dnsNames?.length ? { dnsNames: a.dnsNames } : {}),
    ...(a.ipAddresses?.length ? { ipAddresses: a.ipAddresses } : {}),
  };
}

export function decodeActivationRequest(value: unknown): ActivationRequest {
  const r = requests;
  const o = r.object(value, 'body', [
    'service',
    'instanceId',
    'nonce',
    'evidence',
    'publicKey',
    'dnsNames',
    'ipAddresses',
  ]);
  const names = (key: string): string[] | undefined =>
    r.optional(o, 'body', key, (v, p) => {
      const list = r.asStrings(v, p);
      if (list.length > MAX_NAMES) throw r.fail(p, `at most ${MAX_NAMES} entries`);
      return list;
    });
  const dnsNames = names('dnsNames');
  const ipAddresses = names('ipAddresses');
  return {
    service: r.string(o, 'service'),
    instanceId: r.string(o, 'instanceId'),
    nonce: r.base64(o, 'nonce'),
    evidence: r.base64(o, 'evidence'),
    publicKey: r.base64(o, 'publicKey'),
    ...(dnsNames ? { dnsNames } : {}),
    ...(ipAddresses ? { ipAddresses } : {}),
  };
}

export function encodeActivationResponse(a: ActivationResponse): JsonObject {
  return { ...a, manifest: b64(a.manifest), sealed: { ...a.sealed } };
}

export function decodeActivationResponse(value: unknown): ActivationResponse {
  const r = responses;
  const path = 'activation';
  const o = r.object(value, path);
  const sealed = r.object(o['sealed'], `${path}.sealed`, ['ephemeralKey', 'iv', 'ciphertext']);
  return {
    certChain: r.string(o, 'certChain', path),
    rootCa: r.string(o, 'rootCa', path),
    manifest: r.base64(o, 'manifest', path),
    sealed: {
      ephemeralKey: r.string(sealed, 'ephemeralKey', `${path}.sealed`),
      iv: r.string(sealed, 'iv', `${path}.sealed`),
      ciphertext: r.string(sealed, 'ciphertext', `${path}.sealed`),
    },
    tcbStatus: r.string(o, 'tcbStatus', path),
    simulation: r.optional(o, path, 'simulation', (v, p) => r.asBoolean(v, p)) ?? false,
  };
}

export function encodePayload(p: ActivationPayload): JsonObject {
  return {
    secrets: encodeSecrets(p.secrets),
    volumes: Object.fromEntries(Object.entries(p.volumes).map(([name, g]) => [name, encodeGrant(g)])),
    ...(p.previousSecrets ? { previousSecrets: encodeSecrets(p.previousSecrets) } : {}),
  };
}

export function decodePayload(value: unknown): ActivationPayload {
  const r = responses;
  const o = r.object(value, 'payload', ['secrets', 'volumes', 'previousSecrets']);
  return {
    secrets: decodeSecrets(r, o['secrets'], 'payload.secrets'),
    volumes: r.map(o['volumes'], 'payload.volumes', (v, p) => decodeGrant(r, v, p)),
    ...(r.has(o, 'previousSecrets')
      ? { previousSecrets: decodeSecrets(r, o['previousSecrets'], 'payload.previousSecrets') }
      : {}),
  };
}

/** `{ nonce }`, the answer to `POST /mesh/v1/nonce`. */
export function decodeNonce(value: unknown): Uint8Array {
  const nonce = responses.base64(responses.object(value, 'nonce'), 'nonce', 'nonce');
  if (nonce.length < 16) throw responses.fail('nonce.nonce', 'an activation nonce has at least 16 bytes');
  return nonce;
}

export function decodeCommit(value: unknown): { volume: string; changes: FileChange[] } {
  const r = requests;
  const o = r.object(value, 'body', ['volume', 'changes']);
  return {
    volume: r.string(o, 'volume'),
    changes: r.list(o['changes'], 'body.changes', (v, p) => {
      const change = r.object(v, p, ['path', 'expectedVersion', 'root']);
      return {
        path: volumePath(r, change['path'], `${p}.path`),
        expectedVersion: r.int(change, 'expectedVersion', p),
        root: r.asHex(change['root'], `${p}.root`, 32).toLowerCase(),
      };
    }),
  };
}

/** `POST /api/v1/volumes/register`: a user's sealed files of one volume. */
export function decodeRegistration(value: unknown): { volume: string; files: Record<string, FileRecord> } {
  const o = requests.object(value, 'body', ['volume', 'files']);
  return { volume: requests.string(o, 'volume'), files: decodeFileRecords(requests, o['files'], 'body.files') };
}

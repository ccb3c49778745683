import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import type { CaBundle, SecretValue } from '../pki/index.js';
import { decodeFileRecords, decodeSecrets, encodeSecrets, type FileRecord } from '../protocol/index.js';

/**
 * The coordinator's whole durable state, kept as one JSON document inside the sealed store. Byte
 * strings are base64. Parsing validates every field: state that cannot be read stops the
 * coordinator rather than being replaced.
 */
export interface State {
  version: 1;
  ca: CaBundle;
  manifest: Uint8Array | undefined;
  /** Secrets generated once per deployment (shared, or not per instance). */
  secrets: Record<string, SecretValue>;
  /** Per-instance secrets, by `service/instanceId`. */
  instanceSecrets: Record<string, Record<string, SecretValue>>;
  /** User-defined secrets set by users. */
  userSecrets: Record<string, SecretValue>;
  /** Activations so far, by service. */
  activations: Record<string, number>;
  /** Protected volumes: their key (never shown to users unless a role allows) and each file's version and root. */
  volumes: Record<string, VolumeState>;
  /** A full manifest update waiting for acknowledgements (coordinator/updates.ts). */
  pendingUpdate?: PendingUpdate;
}

export interface PendingUpdate {
  /** The proposed manifest's exact bytes. */
  manifest: Uint8Array;
  /** Users who acknowledged these bytes, in order (the proposer first). */
  acknowledged: string[];
}

export interface VolumeState {
  key: Uint8Array;
  files: Record<string, FileRecord>;
  /** Whether a service has committed to it (then only ResealVolume may replace its files). */
  committed?: true;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The state as bytes for the sealed store. */
export function encodeState(s: State): Uint8Array {
  const doc = {
    version: s.version,
    ca: {
      rootCert: b64(s.ca.rootCert),
      rootKey: b64(s.ca.rootKey),
      intermediateCert: b64(s.ca.intermediateCert),
      intermediateKey: b64(s.ca.intermediateKey),
    },
    manifest: s.manifest && b64(s.manifest),
    secrets: encodeSecrets(s.secrets),
    instanceSecrets: Object.fromEntries(Object.entries(s.instanceSecrets).map(([k, v]) => [k, encodeSecrets(v)])),
    userSecrets: encodeSecrets(s.userSecrets),
    activations: s.activations,
    volumes: Object.fromEntries(
      Object.entries(s.volumes).map(([k, v]) => [
        k,
        { key: b64(v.key), files: v.files, ...(v.committed ? { committed: true } : {}) },
      ]),
    ),
  };
  const pending = s.pendingUpdate && {
    manifest: b64(s.pendingUpdate.manifest),
    acknowledged: s.pendingUpdate.acknowledged,
  };
  return new Uint8Array(Buffer.from(JSON.stringify(pending ? { ...doc, pendingUpdate: pending } : doc), 'utf8'));
}

const j = new JsonReader('STATE_CORRUPT', 'state');

const bytes = (o: Record<string, unknown>, key: string, path: string) => j.base64(o, key, path);

function decodeVolumes(value: unknown): Record<string, VolumeState> {
  return Object.fromEntries(
    Object.entries(j.object(value, 'state.volumes')).map(([name, v]) => {
      const p = `state.volumes.${name}`;
      const o = j.object(v, p);
      const committed = j.optional(o, p, 'committed', (v, q) => j.asBoolean(v, q)) === true;
      return [
        name,
        {
          key: bytes(o, 'key', p),
          files: decodeFileRecords(j, o['files'], `${p}.files`),
          ...(committed ? { committed: true as const } : {}),
        },
      ];
    }),
  );
}

function decodePending(value: unknown): PendingUpdate {
  const o = j.object(value, 'state.pendingUpdate', ['manifest', 'acknowledged']);
  return {
    manifest: bytes(o, 'manifest', 'state.pendingUpdate'),
    acknowledged: j.asStrings(o['acknowledged'], 'state.pendingUpdate.acknowledged'),
  };
}

/** Parses state bytes; anything unexpected is STATE_CORRUPT naming the JSON path. */
export function decodeState(data: Uint8Array): State {
  const o = j.object(j.parse(Buffer.from(data).toString('utf8')));
  if (o['version'] !== 1)
    throw new CloisterError(
      'STATE_CORRUPT',
      `state.version: ${String(o['version'])} is not a state version this coordinator understands`,
      { path: 'state.version' },
    );
  const ca = j.object(o['ca'], 'state.ca');
  const activations = j.object(o['activations'], 'state.activations');
  for (const k of Object.keys(activations)) j.int(activations, k, 'state.activations');
  const instances = j.object(o['instanceSecrets'], 'state.instanceSecrets');
  return {
    version: 1,
    ca: {
      rootCert: bytes(ca, 'rootCert', 'state.ca'),
      rootKey: bytes(ca, 'rootKey', 'state.ca'),
      intermediateCert: bytes(ca, 'intermediateCert', 'state.ca'),
      intermediateKey: bytes(ca, 'intermediateKey', 'state.ca'),
    },
    manifest: j.has(o, 'manifest') ? bytes(o, 'manifest', 'state') : undefined,
    secrets: decodeSecrets(j, o['secrets'], 'state.secrets'),
    instanceSecrets: Object.fromEntries(
      Object.entries(instances).map(([k, v]) => [k, decodeSecrets(j, v, `state.instanceSecrets.${k}`)]),
    ),
    userSecrets: decodeSecrets(j, o['userSecrets'], 'state.userSecrets'),
    activations: activations as Record<string, number>,
    volumes: decodeVolumes(o['volumes'] ?? {}),
    ...(j.has(o, 'pendingUpdate') ? { pendingUpdate: decodePending(o['pendingUpdate']) } : {}),
  };
}

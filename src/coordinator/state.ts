import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import type { CaBundle, SecretValue } from '../pki/index.js';
import { decodeFileRecords, decodeSecrets, encodeSecrets, type FileRecord } from '../protocol/index.js';
import { decodeHistory, type HistoryEntry } from './history.js';
import { decodeRecoveryData, type RecoveryData } from './recovery.js';

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
  /**
   * MarbleRun's previous secrets: each secret's value under the manifest before the last update
   * (its current value when it is new, or before any update), for `{{ .Previous.Secrets.NAME }}`.
   */
  previousSecrets: Record<string, SecretValue>;
  /** The hash-chained history of changes (coordinator/history.ts). */
  history: HistoryEntry[];
  /** The recovery secrets handed out for the manifest's RecoveryKeys (re-issued on request), and their data. */
  recovery?: RecoveryState;
}

export interface RecoveryState {
  /** The recovery key the holders' secrets recombine (sealed here, so that the vault can be mended after a crash). */
  key: Uint8Array;
  /** Each holder's secret, encrypted to the holder's RSA key (MarbleRun's RecoverySecrets). */
  secrets: Record<string, Uint8Array>;
  data: RecoveryData;
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
  const recovery = s.recovery && {
    key: b64(s.recovery.key),
    secrets: Object.fromEntries(Object.entries(s.recovery.secrets).map(([k, v]) => [k, b64(v)])),
    data: s.recovery.data,
  };
  const full = {
    ...doc,
    previousSecrets: encodeSecrets(s.previousSecrets),
    history: s.history,
    ...(pending ? { pendingUpdate: pending } : {}),
    ...(recovery ? { recovery } : {}),
  };
  return new Uint8Array(Buffer.from(JSON.stringify(full), 'utf8'));
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

function decodeRecovery(value: unknown): RecoveryState {
  const o = j.object(value, 'state.recovery', ['key', 'secrets', 'data']);
  const secrets = j.object(o['secrets'], 'state.recovery.secrets');
  return {
    key: bytes(o, 'key', 'state.recovery'),
    secrets: Object.fromEntries(
      Object.keys(secrets).map((holder) => [holder, bytes(secrets, holder, 'state.recovery.secrets')]),
    ),
    data: decodeRecoveryData(o['data'], 'state.recovery.data'),
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
    // States written before previous secrets and history existed have neither.
    previousSecrets: j.has(o, 'previousSecrets') ? decodeSecrets(j, o['previousSecrets'], 'state.previousSecrets') : {},
    history: decodeHistory(o['history'] ?? [], 'STATE_CORRUPT', 'state.history'),
    ...(j.has(o, 'recovery') ? { recovery: decodeRecovery(o['recovery']) } : {}),
  };
}

import { randomBytes, X509Certificate } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { equal, hex } from '../lib/bytes.js';
import { checkPolicy, type Verdict } from '../attest/index.js';
import {
  dnsNameProblem,
  ipAddressProblem,
  parseManifest,
  packagePolicy,
  referencedSecrets,
  renderParameters,
  type Manifest,
  type ParsedManifest,
  type ResourceType,
  type RoleAction,
  type SecretSpec,
} from '../manifest/index.js';
import { certChain, createCa, generateSecret, issueLeaf, pemCert, type SecretValue } from '../pki/index.js';
import {
  bindingReportData,
  sealPayload,
  workloadKey,
  type ActivationRequest,
  type ActivationResponse,
  type FileChange,
  type FileRecord,
  type VolumeGrant,
} from '../protocol/index.js';
import type { SealedStore } from '../store/index.js';
import { NonceBook } from './nonces.js';
import { approvers, carryOver, readSecurityUpdate, withSecurityVersions } from './updates.js';
import { decodeState, encodeState, type RecoveryState, type State, type VolumeState } from './state.js';
import {
  append,
  signHead,
  type HistoryDetails,
  type HistoryEntry,
  type HistoryHead,
  type HistoryKind,
} from './history.js';
import { createRecovery, encodeRecoveryData } from './recovery.js';

/**
 * The coordinator's state machine: manifest lifecycle, workload activation, secrets and users.
 * I/O is injected: the sealed store, the clock, the verifier of workload evidence and the
 * provider of the coordinator's own evidence. Every change is durable before it is acknowledged.
 */

export interface OwnEvidence {
  tee: string;
  simulation: boolean;
  /** Evidence whose report data is the given 64 bytes. */
  quote(reportData: Uint8Array): Promise<Uint8Array>;
  /** Collateral a client needs to verify it, when the coordinator can supply it (the simulated platform). */
  collateral(): Promise<unknown>;
  /** The trust root of that evidence when it is not the manufacturer's (the simulation root, DER). */
  trustRoot: Uint8Array | undefined;
}

/**
 * Where the state key is kept (store/state-key.ts): the coordinator hands it the recovery key of a
 * manifest's RecoveryKeys, and the recovery data a coordinator in recovery mode checks secrets with.
 */
export interface RecoveryVault {
  /** The recovery data it keeps now (as `setRecovery` was last given it). */
  readonly recoveryData: Uint8Array | undefined;
  setRecovery(recovery: { recoveryKey: Uint8Array; data: Uint8Array } | undefined): Promise<void>;
}

/** Verifies a workload's evidence (signatures, chains, collateral) and returns the verdict. */
export type EvidenceVerifier = (evidence: Uint8Array, tee: string) => Promise<Verdict>;

export interface CoordinatorOptions {
  store: SealedStore;
  own: OwnEvidence;
  verify: EvidenceVerifier;
  now?: () => number;
  log?: (entry: Record<string, unknown>) => void;
  /** The names and addresses the coordinator serves under: no workload may have them in its certificate. */
  servingNames?: readonly string[];
  /** Keeps the recovery key's wrapping of the state key; without it, RecoveryKeys are refused. */
  vault?: RecoveryVault;
}

/** What `manifest set` (and an update that changes RecoveryKeys) answers: MarbleRun's RecoverySecrets, base64. */
export interface ManifestSet {
  fingerprint: string;
  RecoverySecrets?: Record<string, string>;
}

/** Where a manifest update stands. */
export interface UpdateStatus {
  applied: boolean;
  /** Fingerprint of the manifest it makes (applied) or proposes (pending). */
  fingerprint: string;
  acknowledged: string[];
  /** Users holding UpdateManifest who have not acknowledged it. */
  missing: string[];
  /** How many acknowledgements it needs (Config.UpdateThreshold, else every such user). */
  required?: number;
  /** New recovery secrets, when an applied update changed RecoveryKeys or RecoveryThreshold. */
  RecoverySecrets?: Record<string, string>;
}

/** An activation's answer for the workload, and the verdict its evidence got. */
export interface Activation {
  response: ActivationResponse;
  verdict: Verdict;
}

const NONCE_TTL = 120;

export class Coordinator {
  private state: State;
  private parsed: ParsedManifest | undefined;
  private readonly nonces = new NonceBook(NONCE_TTL);
  private readonly options: Required<Omit<CoordinatorOptions, 'store' | 'own' | 'verify' | 'vault'>> &
    CoordinatorOptions;
  private writing: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;

  private constructor(state: State, options: CoordinatorOptions) {
    this.state = state;
    this.options = { now: () => Date.now() / 1000, log: () => {}, servingNames: [], ...options };
    this.parsed = state.manifest && parseManifest(state.manifest);
  }

  /**
   * Opens the coordinator over its store: reads the state (unreadable state throws and is left
   * alone), or creates the CA on first start.
   *
   * @example
   * ```ts
   * const c = await Coordinator.open({ store: fileStore({ dir, key }), own, verify });
   * ```
   */
  static async open(options: CoordinatorOptions): Promise<Coordinator> {
    const bytes = await options.store.read();
    if (bytes) {
      const coordinator = new Coordinator(decodeState(bytes), options);
      await coordinator.syncVault();
      return coordinator;
    }
    const now = options.now?.() ?? Date.now() / 1000;
    const state: State = {
      version: 1,
      ca: await createCa({ now }),
      manifest: undefined,
      secrets: {},
      instanceSecrets: {},
      userSecrets: {},
      activations: {},
      volumes: {},
      previousSecrets: {},
      history: [],
    };
    await options.store.write(encodeState(state));
    return new Coordinator(state, options);
  }

  /**
   * Persists the current state. Writes are serialised and coalesced: a caller waits for a write
   * that started after its change (group commit), so concurrent activations share one fsync.
   */
  private persist(): Promise<void> {
    if (!this.pending) {
      this.pending = this.writing.then(() => {
        this.pending = undefined;
        return this.options.store.write(encodeState(this.state));
      });
      this.writing = this.pending.catch(() => {});
    }
    return this.pending;
  }

  get ca() {
    return this.state.ca;
  }

  /** Appends a history entry to the state (persisted with the change it records). */
  private record(kind: HistoryKind, by: string[], details?: HistoryDetails, manifest = this.parsed?.fingerprint): void {
    this.state = {
      ...this.state,
      history: append(this.state.history, { kind, by, manifest, ...(details ? { details } : {}) }, this.options.now()),
    };
  }

  /** The history and its head, signed with the root key (the identity the coordinator's evidence binds). */
  history(): { entries: HistoryEntry[]; head: HistoryHead } {
    return { entries: this.state.history, head: signHead(this.state.history, this.state.ca.rootKey) };
  }

  /** Records that key holders recovered this state on a new platform (after a coordinator in recovery mode opened it). */
  async recovered(holders: string[]): Promise<void> {
    this.record('recovered', holders);
    await this.persist();
    this.options.log({ level: 'info', event: 'recovered', holders });
  }

  /** MarbleRun's RecoverySecrets again, for the key holders (encrypted to them: nothing for anyone else). */
  recoverySecrets(): Record<string, string> {
    if (!this.state.recovery)
      throw new CloisterError(
        'RECOVERY_UNAVAILABLE',
        'the manifest names no RecoveryKeys: there are no recovery secrets',
      );
    return encodeRecoverySecrets(this.state.recovery);
  }

  /** New recovery secrets for `m`'s RecoveryKeys (none: no recovery). */
  private makeRecovery(m: Manifest): RecoveryState | undefined {
    if (Object.keys(m.RecoveryKeys).length === 0) return undefined;
    if (!this.options.vault)
      throw new CloisterError(
        'RECOVERY_UNAVAILABLE',
        'this coordinator keeps no recovery key: RecoveryKeys cannot be used',
      );
    const { recoveryKey, secrets, data } = createRecovery(m.RecoveryKeys, m.Config.RecoveryThreshold);
    return { key: recoveryKey, secrets, data };
  }

  /**
   * Makes the vault keep the recovery of the sealed state: after every persisted change of it, and
   * at start, so that a crash between the two writes is mended by the next start (the state,
   * written first, is what counts).
   */
  private async syncVault(): Promise<void> {
    const vault = this.options.vault;
    if (!vault) return;
    const recovery = this.state.recovery;
    const data = recovery && encodeRecoveryData(recovery.data);
    const kept = vault.recoveryData;
    if (data === undefined ? kept === undefined : kept !== undefined && equal(kept, data)) return;
    await vault.setRecovery(recovery && data && { recoveryKey: recovery.key, data });
  }

  status(): {
    status: 'AcceptingManifest' | 'AcceptingMarbles';
    simulation: boolean;
    tee: string;
    manifestFingerprint: string | undefined;
  } {
    return {
      status: this.parsed ? 'AcceptingMarbles' : 'AcceptingManifest',
      simulation: this.options.own.simulation,
      tee: this.options.own.tee,
      manifestFingerprint: this.parsed?.fingerprint,
    };
  }

  /** The coordinator's evidence: report data binds its root certificate (and the client's nonce). */
  async quote(nonce: Uint8Array = new Uint8Array()): Promise<{ evidence: Uint8Array; collateral: unknown }> {
    if (nonce.length > 64) throw new CloisterError('REQUEST_INVALID', 'nonce: at most 64 bytes');
    const evidence = await this.options.own.quote(bindingReportData(this.state.ca.rootCert, nonce));
    return { evidence, collateral: await this.options.own.collateral() };
  }

  manifest(): ParsedManifest {
    if (!this.parsed) throw new CloisterError('MANIFEST_MISSING', 'no manifest has been set');
    return this.parsed;
  }

  /** Generates the shared secrets of `m` that `keep` does not name (at manifest set: all of them). */
  private async sharedSecrets(m: Manifest, keep: (name: string) => boolean): Promise<Record<string, SecretValue>> {
    const secrets: Record<string, SecretValue> = {};
    for (const [name, spec] of Object.entries(m.Secrets))
      if (!spec.UserDefined && spec.Shared && !keep(name))
        secrets[name] = await generateSecret(spec, this.state.ca, this.options.now());
    return secrets;
  }

  /** Sets the manifest (once), generates its secrets and, for its RecoveryKeys, the recovery secrets. */
  async setManifest(bytes: Uint8Array): Promise<ManifestSet> {
    if (this.parsed)
      throw new CloisterError(
        'MANIFEST_ALREADY_SET',
        `a manifest is already set (${this.parsed.fingerprint}): change it with \`cloister manifest update apply\``,
      );
    const parsed = parseManifest(bytes);
    const secrets = await this.sharedSecrets(parsed.manifest, () => false);
    // One key per protected volume, generated here and never shown to users without a Volumes role.
    const volumes = Object.fromEntries(
      Object.keys(parsed.manifest.Volumes).map((name) => [name, { key: new Uint8Array(randomBytes(32)), files: {} }]),
    );
    const recovery = this.makeRecovery(parsed.manifest);
    const { recovery: _none, ...rest } = this.state;
    this.state = { ...rest, manifest: parsed.raw, secrets, volumes, previousSecrets: secrets };
    if (recovery) this.state.recovery = recovery;
    this.parsed = parsed;
    this.record('manifest-set', [], {
      services: Object.keys(parsed.manifest.Marbles),
      recoveryKeys: Object.keys(parsed.manifest.RecoveryKeys),
    });
    await this.persist();
    await this.syncVault();
    this.options.log({ level: 'info', event: 'manifest-set', fingerprint: parsed.fingerprint });
    return {
      fingerprint: parsed.fingerprint,
      ...(recovery ? { RecoverySecrets: encodeRecoverySecrets(recovery) } : {}),
    };
  }

  /**
   * A manifest update from a user (MarbleRun's `manifest update apply`): a partial manifest of
   * security versions is applied at once; a whole manifest becomes the pending update, acknowledged
   * by its proposer, and applies when enough of the users holding UpdateManifest acknowledged it.
   */
  async applyUpdate(clientCert: Uint8Array | undefined, bytes: Uint8Array): Promise<UpdateStatus> {
    const current = this.manifest();
    const doc = new JsonReader('UPDATE_INVALID', 'update').parse(Buffer.from(bytes).toString('utf8'));
    if (typeof doc === 'object' && doc !== null && !Object.hasOwn(doc, 'Marbles')) {
      const versions = readSecurityUpdate(current.manifest, doc);
      const user = this.authorize(clientCert, 'UpdateSecurityVersion', Object.keys(versions), 'Packages');
      const parsed = parseManifest(withSecurityVersions(current.raw, versions));
      this.state = { ...this.state, manifest: parsed.raw };
      this.parsed = parsed;
      this.record('security-versions-updated', [user], { versions });
      await this.persist();
      this.options.log({
        level: 'info',
        event: 'security-version-update',
        user,
        versions,
        fingerprint: parsed.fingerprint,
      });
      return { applied: true, fingerprint: parsed.fingerprint, acknowledged: [user], missing: [] };
    }
    const user = this.authorize(clientCert, 'UpdateManifest', [], 'Manifest');
    const proposed = parseManifest(bytes);
    if (this.state.pendingUpdate)
      throw new CloisterError(
        'UPDATE_NOT_PENDING',
        `an update (${parseManifest(this.state.pendingUpdate.manifest).fingerprint}) is pending already: acknowledge or cancel it first`,
      );
    this.state = { ...this.state, pendingUpdate: { manifest: proposed.raw, acknowledged: [] } };
    this.record('update-proposed', [user], {}, proposed.fingerprint);
    return this.acknowledge(user, proposed);
  }

  /** A user's acknowledgement of the pending update; it must be for exactly the same bytes. */
  async acknowledgeUpdate(clientCert: Uint8Array | undefined, bytes: Uint8Array): Promise<UpdateStatus> {
    const user = this.authorize(clientCert, 'UpdateManifest', [], 'Manifest');
    const pending = this.pendingUpdate();
    const proposed = parseManifest(bytes);
    if (!equal(proposed.raw, pending.manifest))
      throw new CloisterError(
        'UPDATE_MISMATCH',
        `user "${user}" acknowledged ${proposed.fingerprint}, but the pending update is ${parseManifest(pending.manifest).fingerprint}`,
      );
    return this.acknowledge(user, proposed);
  }

  /** Cancels the pending update (any user who may acknowledge it). */
  async cancelUpdate(clientCert: Uint8Array | undefined): Promise<void> {
    const user = this.authorize(clientCert, 'UpdateManifest', [], 'Manifest');
    const fingerprint = parseManifest(this.pendingUpdate().manifest).fingerprint;
    const { pendingUpdate: _cancelled, ...rest } = this.state;
    this.state = rest;
    this.record('update-cancelled', [user], {}, fingerprint);
    await this.persist();
    this.options.log({ level: 'info', event: 'update-cancelled', user, fingerprint });
  }

  /** The pending update and who has yet to acknowledge it. */
  updateStatus(): UpdateStatus & { manifest: Uint8Array } {
    const pending = this.pendingUpdate();
    const { users, threshold } = approvers(this.manifest().manifest);
    return {
      applied: false,
      fingerprint: parseManifest(pending.manifest).fingerprint,
      manifest: pending.manifest,
      acknowledged: pending.acknowledged,
      missing: users.filter((u) => !pending.acknowledged.includes(u)),
      required: threshold,
    };
  }

  private pendingUpdate(): NonNullable<State['pendingUpdate']> {
    if (!this.state.pendingUpdate) throw new CloisterError('UPDATE_NOT_PENDING', 'no manifest update is pending');
    return this.state.pendingUpdate;
  }

  private async acknowledge(user: string, proposed: ParsedManifest): Promise<UpdateStatus> {
    const pending = this.pendingUpdate();
    this.record('update-acknowledged', [user], {}, proposed.fingerprint);
    const acknowledged = pending.acknowledged.includes(user) ? pending.acknowledged : [...pending.acknowledged, user];
    const current = this.manifest();
    const { users, threshold } = approvers(current.manifest);
    const missing = users.filter((u) => !acknowledged.includes(u));
    if (acknowledged.length < threshold) {
      this.state = { ...this.state, pendingUpdate: { manifest: pending.manifest, acknowledged } };
      await this.persist();
      this.options.log({
        level: 'info',
        event: 'update-acknowledged',
        user,
        fingerprint: proposed.fingerprint,
        missing,
      });
      return { applied: false, fingerprint: proposed.fingerprint, acknowledged, missing, required: threshold };
    }
    const kept = (name: string) =>
      JSON.stringify(current.manifest.Secrets[name]) === JSON.stringify(proposed.manifest.Secrets[name]);
    const secrets = await this.sharedSecrets(proposed.manifest, kept);
    const before = this.state;
    const sameRecovery =
      JSON.stringify([current.manifest.RecoveryKeys, current.manifest.Config.RecoveryThreshold]) ===
      JSON.stringify([proposed.manifest.RecoveryKeys, proposed.manifest.Config.RecoveryThreshold]);
    const recovery = sameRecovery ? before.recovery : this.makeRecovery(proposed.manifest);
    const { recovery: _old, ...next } = carryOver(before, current.manifest, proposed, {
      secrets,
      volumeKey: () => new Uint8Array(randomBytes(32)),
    });
    this.state = { ...next, previousSecrets: previousSecrets(before, next, proposed.manifest) };
    if (recovery) this.state.recovery = recovery;
    this.parsed = proposed;
    this.record('update-applied', acknowledged, { services: Object.keys(proposed.manifest.Marbles) });
    await this.persist();
    await this.syncVault();
    this.options.log({
      level: 'info',
      event: 'manifest-updated',
      user,
      acknowledged,
      fingerprint: proposed.fingerprint,
    });
    return {
      applied: true,
      fingerprint: proposed.fingerprint,
      acknowledged,
      missing: [],
      required: threshold,
      ...(recovery && !sameRecovery ? { RecoverySecrets: encodeRecoverySecrets(recovery) } : {}),
    };
  }

  /** A fresh single-use activation nonce (nothing is stored until it is used: coordinator/nonces.ts). */
  nonce(): Uint8Array {
    return this.nonces.issue(this.options.now());
  }

  /** How many activation nonces are issued, unexpired and unused (for the metrics). */
  noncesOutstanding(): number {
    return this.nonces.outstanding(this.options.now());
  }

  /** Activations so far of each service of the manifest (0 for those never activated); MANIFEST_MISSING before one is set. */
  activations(): Record<string, number> {
    return Object.fromEntries(
      Object.keys(this.manifest().manifest.Marbles).map((service) => [service, this.state.activations[service] ?? 0]),
    );
  }

  private refuse(service: string, message: string, cause?: unknown): never {
    this.options.log({ level: 'warn', event: 'activation-refused', service, message });
    throw new CloisterError('ACTIVATION_REFUSED', `${service}: ${message}`, { cause });
  }

  /**
   * Activates a workload: the nonce is fresh and unused, the evidence is genuine, binds the
   * presented key and the nonce, and satisfies the service's package; activations stay within
   * MaxActivations. Returns its certificate, and the secrets its parameters use and its volume
   * grants sealed to the attested key (the coordinator never hands them out in plaintext).
   */
  async activate(r: ActivationRequest): Promise<Activation> {
    const m = this.manifest().manifest;
    if (!this.nonces.redeem(r.nonce, this.options.now())) {
      this.options.log({
        level: 'warn',
        event: 'activation-refused',
        service: r.service,
        message: 'unknown, used or expired nonce',
      });
      throw new CloisterError(
        'NONCE_INVALID',
        'the activation nonce is unknown, already used or expired: request a new one',
      );
    }
    const marble = m.Marbles[r.service];
    if (!marble) this.refuse(r.service, `no service "${r.service}" in the manifest`);
    workloadKey(r.publicKey);
    const pkg = m.Packages[marble.Package];
    if (!pkg) this.refuse(r.service, `package "${marble.Package}" is missing`);
    let verdict: Verdict;
    try {
      verdict = await this.options.verify(r.evidence, pkg.TEE);
    } catch (cause) {
      this.refuse(
        r.service,
        `evidence rejected: ${cause instanceof CloisterError ? `${cause.code}: ` : ''}${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      );
    }
    const reportData = verdict.claims['reportData'];
    if (reportData !== hex(bindingReportData(r.publicKey, r.nonce)))
      this.refuse(r.service, 'report data does not bind the presented public key and nonce');
    try {
      checkPolicy(verdict, packagePolicy(pkg));
    } catch (cause) {
      // The newcomer's trap: a package for hardware on a coordinator of the simulated platform.
      const hint =
        verdict.simulation && pkg.TEE !== 'sim'
          ? ` (the evidence is from the simulated platform, and package "${marble.Package}" has TEE "${pkg.TEE}": on the simulated platform a package says "TEE": "sim")`
          : '';
      this.refuse(r.service, `package "${marble.Package}": ${(cause as Error).message}${hint}`, cause);
    }
    if (!/^[\w.-]{1,128}$/.test(r.instanceId))
      throw new CloisterError('REQUEST_INVALID', 'instanceId: 1 to 128 letters, digits, ".", "_" or "-"');
    // A workload names its own DNS names and addresses, within what the manifest lets it claim (manifest/names.ts).
    const reserved = this.options.servingNames;
    for (const name of r.dnsNames ?? []) {
      const problem = dnsNameProblem(m, r.service, name, reserved);
      if (problem) this.refuse(r.service, `DNS name "${name}" ${problem}`);
    }
    for (const address of r.ipAddresses ?? []) {
      const problem = ipAddressProblem(m, r.service, address, reserved);
      if (problem) this.refuse(r.service, `IP address "${address}" ${problem}`);
    }
    const count = this.state.activations[r.service] ?? 0;
    if (marble.MaxActivations > 0 && count >= marble.MaxActivations)
      this.refuse(r.service, `MaxActivations (${marble.MaxActivations}) reached`);
    // Counted before anything awaits, so concurrent activations cannot exceed MaxActivations; given back on failure.
    this.state.activations = { ...this.state.activations, [r.service]: count + 1 };
    try {
      return await this.complete(r, m, verdict);
    } catch (error) {
      this.state.activations = { ...this.state.activations, [r.service]: (this.state.activations[r.service] ?? 1) - 1 };
      throw error;
    }
  }

  /** The part of an activation after every check: secrets, certificate, dry run, durable count. */
  private async complete(r: ActivationRequest, m: Manifest, verdict: Verdict): Promise<Activation> {
    const secrets = await this.secretsFor(m, r.service, r.instanceId);
    const now = this.options.now();
    const cert = await issueLeaf(this.state.ca, {
      publicKey: r.publicKey,
      commonName: r.service,
      dnsNames: [...new Set([r.service, ...(r.dnsNames ?? ['localhost']), ...(m.Marbles[r.service]?.DNSNames ?? [])])],
      ipAddresses: [
        ...new Set([...(r.ipAddresses ?? ['127.0.0.1', '::1']), ...(m.Marbles[r.service]?.IPAddresses ?? [])]),
      ],
      now,
    });
    // The dry run of the coordinator: a missing user-defined secret fails here, not in the workload.
    const previousSecrets = Object.fromEntries(
      Object.keys(secrets).flatMap((name) => {
        const value = this.state.previousSecrets[name];
        return value ? [[name, value]] : [];
      }),
    );
    try {
      renderParameters(m, r.service, {
        secrets,
        previousSecrets,
        rootCa: this.state.ca.rootCert,
        marbleCert: cert,
        marbleKey: new Uint8Array(),
      });
    } catch (cause) {
      this.refuse(r.service, (cause as Error).message, cause);
    }
    await this.persist();
    this.options.log({
      level: 'info',
      event: 'activated',
      service: r.service,
      instance: r.instanceId,
      tcbStatus: verdict.tcbStatus,
      simulation: verdict.simulation,
    });
    return {
      response: {
        certChain: certChain(this.state.ca, cert),
        rootCa: pemCert(this.state.ca.rootCert),
        manifest: this.manifest().raw,
        sealed: sealPayload(r.publicKey, r.nonce, { secrets, volumes: this.grants(m, r.service), previousSecrets }),
        tcbStatus: verdict.tcbStatus,
        simulation: verdict.simulation,
      },
      verdict,
    };
  }

  /** The secrets a service references: shared ones, user-defined ones, and its instance's own (generated once, kept). */
  private async secretsFor(m: Manifest, service: string, instanceId: string): Promise<Record<string, SecretValue>> {
    const id = `${service}/${instanceId}`;
    const own = { ...(this.state.instanceSecrets[id] ?? {}) };
    const out: Record<string, SecretValue> = {};
    let changed = false;
    for (const name of referencedSecrets(m, service)) {
      const spec = m.Secrets[name];
      if (!spec) continue;
      const value = spec.UserDefined
        ? this.state.userSecrets[name]
        : spec.Shared
          ? this.state.secrets[name]
          : own[name];
      if (value) {
        out[name] = value;
      } else if (!spec.UserDefined) {
        out[name] = own[name] = await generateSecret(spec, this.state.ca, this.options.now());
        changed = true;
      }
    }
    if (changed) this.state.instanceSecrets = { ...this.state.instanceSecrets, [id]: own };
    return out;
  }

  private grants(m: Manifest, service: string): Record<string, VolumeGrant> {
    const out: Record<string, VolumeGrant> = {};
    for (const [name, v] of Object.entries(m.Volumes)) {
      const s = this.state.volumes[name];
      if (s && v.Services.includes(service))
        out[name] = { mode: v.Mode, key: s.key, files: s.files, sealed: v.Sealed, path: v.Path };
    }
    return out;
  }

  private volume(name: string): { spec: Manifest['Volumes'][string]; state: VolumeState } {
    const spec = this.manifest().manifest.Volumes[name];
    const state = this.state.volumes[name];
    if (!spec || !state) throw new CloisterError('NOT_FOUND', `no volume "${name}" in the manifest`);
    return { spec, state };
  }

  /** A volume's key and file records for a user whose role allows sealing or opening it. */
  volumeKey(clientCert: Uint8Array | undefined, name: string, action: 'SealVolume' | 'OpenVolume'): VolumeGrant {
    this.authorize(clientCert, action, [name], 'Volumes');
    const { spec, state } = this.volume(name);
    this.options.log({ level: 'info', event: 'volume-key-released', volume: name, action });
    return { mode: spec.Mode, key: state.key, files: state.files, sealed: spec.Sealed, path: spec.Path };
  }

  /** Registers the files a user sealed: the exact set of a read-only volume, or the initial files of a read-write one. */
  async registerVolume(
    clientCert: Uint8Array | undefined,
    name: string,
    files: Record<string, FileRecord>,
  ): Promise<void> {
    const user = this.authorize(clientCert, 'SealVolume', [name], 'Volumes');
    const { spec, state } = this.volume(name);
    // What services committed is theirs: replacing it (a rollback to what the user sealed) needs a role that says so.
    if (spec.Mode === 'read-write' && state.committed) this.authorize(clientCert, 'ResealVolume', [name], 'Volumes');
    this.state.volumes = { ...this.state.volumes, [name]: { key: state.key, files: { ...files } } };
    this.record('volume-sealed', [user], { volume: name, files: Object.keys(files) });
    await this.persist();
    this.options.log({ level: 'info', event: 'volume-sealed', volume: name, user, files: Object.keys(files).length });
  }

  /**
   * Commits new versions of files of a read-write volume for an activated service (identified by
   * the certificate the coordinator issued it): compare-and-swap on each file's version.
   */
  async commitFiles(
    serviceCert: Uint8Array | undefined,
    name: string,
    changes: FileChange[],
  ): Promise<Record<string, FileRecord>> {
    const service = this.serviceOf(serviceCert);
    const { spec, state } = this.volume(name);
    if (!spec.Services.includes(service))
      throw new CloisterError('FORBIDDEN', `service "${service}" may not open volume "${name}"`);
    if (spec.Mode !== 'read-write')
      throw new CloisterError('FORBIDDEN', `volume "${name}" is read-only: its files are pinned when sealed`);
    const files = { ...state.files };
    for (const c of changes) {
      const current = files[c.path]?.version ?? 0;
      if (c.expectedVersion !== current)
        throw new CloisterError(
          'VERSION_CONFLICT',
          `${name}/${c.path}: expected version ${c.expectedVersion}, the coordinator has ${current}`,
        );
      if (!/^[0-9a-f]{64}$/.test(c.root))
        throw new CloisterError('REQUEST_INVALID', `${name}/${c.path}: root must be 32 bytes of lowercase hex`);
      files[c.path] = { version: current + 1, root: c.root };
    }
    this.state.volumes = { ...this.state.volumes, [name]: { key: state.key, files, committed: true } };
    await this.persist();
    this.options.log({
      level: 'info',
      event: 'volume-commit',
      volume: name,
      service,
      files: changes.map((c) => c.path),
    });
    return files;
  }

  /** The service a client certificate was issued to by this coordinator, or UNAUTHENTICATED. */
  private serviceOf(der: Uint8Array | undefined): string {
    if (!der) throw new CloisterError('UNAUTHENTICATED', 'present the certificate issued at activation');
    const cert = new X509Certificate(der);
    const intermediate = new X509Certificate(this.state.ca.intermediateCert);
    const now = this.options.now() * 1000;
    if (
      !cert.checkIssued(intermediate) ||
      !cert.verify(intermediate.publicKey) ||
      Date.parse(cert.validTo) < now ||
      Date.parse(cert.validFrom) > now
    ) {
      throw new CloisterError(
        'UNAUTHENTICATED',
        'the certificate was not issued by this coordinator, or is not valid now',
      );
    }
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (!cn || !this.manifest().manifest.Marbles[cn])
      throw new CloisterError('UNAUTHENTICATED', 'the certificate names no service of the manifest');
    return cn;
  }

  /** The user a client certificate belongs to (the manifest's exact certificate, valid now), or UNAUTHENTICATED. */
  private user(clientCert: Uint8Array | undefined): { name: string; roles: string[] } {
    const m = this.manifest().manifest;
    const found = clientCert
      ? Object.entries(m.Users).find(([, u]) =>
          equal(Buffer.from(u.Certificate.replace(/-----[^-]+-----|\s/g, ''), 'base64'), clientCert),
        )
      : undefined;
    if (!found || !clientCert)
      throw new CloisterError('UNAUTHENTICATED', 'present the client certificate of a user of the manifest');
    const [name, u] = found;
    const cert = new X509Certificate(clientCert);
    const now = this.options.now() * 1000;
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now)
      throw new CloisterError(
        'UNAUTHENTICATED',
        `the certificate of user "${name}" is valid from ${cert.validFrom} to ${cert.validTo}, not now`,
      );
    return { name, roles: u.Roles };
  }

  private authorize(
    clientCert: Uint8Array | undefined,
    action: RoleAction,
    names: string[],
    resource: ResourceType = 'Secrets',
  ): string {
    const user = this.user(clientCert);
    const m = this.manifest().manifest;
    // A resource without names (Manifest) is one target: a role of that type with the action allows it.
    for (const name of names.length > 0 ? names : [undefined]) {
      const allowed = user.roles.some((r) => {
        const role = m.Roles[r];
        return (
          role?.ResourceType === resource &&
          role.Actions.some((a) => a.toLowerCase() === action.toLowerCase()) &&
          (name === undefined || role.ResourceNames.includes(name))
        );
      });
      if (!allowed) {
        this.options.log({ level: 'warn', event: 'forbidden', user: user.name, action, resource: name ?? resource });
        throw new CloisterError(
          'FORBIDDEN',
          `user "${user.name}" may not ${action} ${name === undefined ? `(no role of type ${resource} allows it)` : `"${name}"`}`,
        );
      }
    }
    return user.name;
  }

  /** Secrets for an authorised user (shared, generated or user-defined). */
  readSecrets(clientCert: Uint8Array | undefined, names: string[]): Record<string, SecretValue> {
    this.authorize(clientCert, 'ReadSecret', names);
    const out: Record<string, SecretValue> = {};
    for (const n of names) {
      const v = this.state.userSecrets[n] ?? this.state.secrets[n];
      if (!v) throw new CloisterError('NOT_FOUND', `secret "${n}" is not set (or is per instance)`);
      out[n] = v;
    }
    return out;
  }

  /** Sets user-defined secrets for an authorised user. */
  async writeSecrets(clientCert: Uint8Array | undefined, values: Record<string, SecretValue>): Promise<void> {
    const user = this.authorize(clientCert, 'WriteSecret', Object.keys(values));
    const m = this.manifest().manifest;
    for (const [name, v] of Object.entries(values)) {
      const spec = m.Secrets[name];
      if (!spec?.UserDefined)
        throw new CloisterError('SECRET_INVALID', `secret "${name}" is not user-defined in the manifest`);
      if (spec.Type !== v.type)
        throw new CloisterError('SECRET_INVALID', `secret "${name}" must be of type ${spec.Type}`);
      const problem = userSecretProblem(spec, v);
      if (problem !== undefined) throw new CloisterError('SECRET_INVALID', `secret "${name}" ${problem}`);
    }
    this.state.userSecrets = { ...this.state.userSecrets, ...values };
    // Names and types only: a secret's value never enters the history.
    this.record('secrets-written', [user], {
      secrets: Object.fromEntries(Object.entries(values).map(([name, v]) => [name, v.type])),
    });
    await this.persist();
    this.options.log({ level: 'info', event: 'secrets-set', user, secrets: Object.keys(values) });
  }
}

const encodeRecoverySecrets = (r: RecoveryState): Record<string, string> =>
  Object.fromEntries(
    Object.entries(r.secrets).map(([holder, bytes]) => [holder, Buffer.from(bytes).toString('base64')]),
  );

/**
 * MarbleRun's previous secrets after an update: each secret of the new manifest as it was before
 * (shared or user-defined), or as it is now when it is new.
 */
function previousSecrets(before: State, after: State, m: Manifest): Record<string, SecretValue> {
  const out: Record<string, SecretValue> = {};
  for (const name of Object.keys(m.Secrets)) {
    const value = before.secrets[name] ?? before.userSecrets[name] ?? after.secrets[name] ?? after.userSecrets[name];
    if (value) out[name] = value;
  }
  return out;
}

/**
 * What is wrong with a user's value for a user-defined secret, if anything: a symmetric key must
 * be there and of the manifest's Size, a certificate must come with its private key; a plain
 * secret may be anything, even empty.
 */
function userSecretProblem(spec: SecretSpec, v: SecretValue): string | undefined {
  if (v.type === 'symmetric-key') {
    const bits = (v.key?.length ?? 0) * 8;
    if (bits === 0) return 'is empty: a symmetric-key secret needs its key bytes';
    if (spec.Size !== 0 && bits !== spec.Size) return `must be ${spec.Size} bits (the manifest's Size), not ${bits}`;
  }
  if (v.type.startsWith('cert-') && (!v.cert?.length || !v.private?.length))
    return 'needs a certificate and its private key';
  return undefined;
}

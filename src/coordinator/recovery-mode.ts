import { CloisterError } from '../lib/errors.js';
import type { CaBundle } from '../pki/index.js';
import { bindingReportData } from '../protocol/index.js';
import type { OwnEvidence } from './coordinator.js';
import { RecoverySession, type RecoveryData } from './recovery.js';

/**
 * A coordinator that cannot open its state key (a new machine, a changed platform): it serves
 * status and its evidence, under a temporary CA of this process (its state's CA is sealed), and
 * takes the key holders' recovery secrets (MarbleRun's recovery mode). When enough secrets came,
 * `recover` (the edge) opens the state with the recovery key, re-seals the state key under this
 * platform's key and starts the coordinator; a key that opens nothing is RECOVERY_FAILED and the
 * holders start again.
 */

export const RECOVERY_MESSAGE =
  'the coordinator is in recovery mode: it cannot open its sealed state on this platform; each recovery key holder uploads a secret with `cloister recover SECRET_FILE`';

export interface RecoveryModeOptions {
  own: OwnEvidence;
  /** The temporary CA of the serving identity in recovery mode. */
  ca: CaBundle;
  data: RecoveryData | undefined;
  /** Opens the state with the recovery key and takes over (the holders named gave their secrets). */
  recover(recoveryKey: Uint8Array, holders: string[]): Promise<void>;
  log?: (entry: Record<string, unknown>) => void;
}

export interface RecoveryAnswer {
  holder: string;
  remaining: number;
  recovered: boolean;
}

export class RecoveryMode {
  private readonly session: RecoverySession;
  private readonly options: RecoveryModeOptions;
  private busy: Promise<unknown> = Promise.resolve();
  private done = false;

  constructor(options: RecoveryModeOptions) {
    this.options = options;
    this.session = new RecoverySession(options.data);
  }

  get ca(): CaBundle {
    return this.options.ca;
  }

  status() {
    const { accepted, remaining, threshold } = this.session.progress();
    return {
      status: 'RecoveryMode' as const,
      simulation: this.options.own.simulation,
      tee: this.options.own.tee,
      manifestFingerprint: undefined,
      message: RECOVERY_MESSAGE,
      recovery: { threshold, remaining, accepted, recoverable: this.options.data !== undefined },
    };
  }

  /** Evidence binding the temporary root (and the client's nonce), as the coordinator's own. */
  async quote(nonce: Uint8Array = new Uint8Array()): Promise<{ evidence: Uint8Array; collateral: unknown }> {
    if (nonce.length > 64) throw new CloisterError('REQUEST_INVALID', 'nonce: at most 64 bytes');
    const evidence = await this.options.own.quote(bindingReportData(this.options.ca.rootCert, nonce));
    return { evidence, collateral: await this.options.own.collateral() };
  }

  /** One holder's decrypted recovery secret; secrets are taken one at a time. */
  submit(secret: Uint8Array): Promise<RecoveryAnswer> {
    const run = this.busy.then(() => this.take(secret));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async take(secret: Uint8Array): Promise<RecoveryAnswer> {
    if (this.done) throw new CloisterError('RECOVERY_UNAVAILABLE', 'the coordinator was recovered already');
    const log = this.options.log ?? (() => {});
    let progress;
    try {
      progress = this.session.submit(secret);
    } catch (error) {
      log({ level: 'warn', event: 'recovery-secret-refused', code: (error as CloisterError).code });
      throw error;
    }
    const { holder, remaining, recoveryKey } = progress;
    log({ level: 'info', event: 'recovery-secret-accepted', holder, remaining });
    if (!recoveryKey) return { holder, remaining, recovered: false };
    const holders = this.session.progress().accepted;
    try {
      await this.options.recover(recoveryKey, holders);
    } catch (error) {
      this.session.reset();
      log({ level: 'error', event: 'recovery-failed', code: (error as CloisterError).code });
      throw error instanceof CloisterError && error.code === 'RECOVERY_FAILED'
        ? error
        : new CloisterError('RECOVERY_FAILED', `the recovered key did not open the sealed state: ${String(error)}`, {
            cause: error,
          });
    }
    this.done = true;
    return { holder, remaining: 0, recovered: true };
  }
}

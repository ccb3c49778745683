import { Transform, type TransformCallback } from 'node:stream';
import { CloisterError } from '../lib/errors.js';
import { FileOpener } from './lib/opener.js';
import { openParams, sealParams, toLength } from './lib/options.js';
import { FileSealer } from './lib/sealer.js';
import type { OpenOptions, OpenStreamResult, SealStreamOptions, SealStreamResult } from './types.js';

/**
 * node:stream adapters over the same state machines as `sealFile` and `openFile`, for files too
 * large to hold in memory: bytes in pieces of any size, the same checks and the same errors.
 */

/** A deferred result that never counts as an unhandled rejection when nobody awaits it. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (e: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** A Transform whose work is `step` per piece and `finish` at the end, with `result` settling accordingly. */
abstract class ResultTransform<T> extends Transform {
  private readonly settle = deferred<T>();
  /** Resolves once the stream has ended and every check passed; rejects with the stream's error. */
  readonly result: Promise<T> = this.settle.promise;
  /** Output of the current piece, handed on when the piece is done (see `release`). */
  private gathered: Buffer[] = [];
  /** Gathers output bytes for the readable side. */
  protected readonly out = (bytes: Buffer): void => {
    this.gathered.push(bytes);
  };

  protected abstract step(piece: Buffer): void;
  protected abstract finish(): T;

  override _transform(piece: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.guard(done, () => {
      this.step(piece);
      this.release();
    });
  }

  override _flush(done: TransformCallback): void {
    this.guard(done, () => {
      const result = this.finish();
      this.release();
      this.settle.resolve(result);
    });
  }

  /**
   * Hands on what one input piece produced, piece by piece and without copying: joining them cost
   * about 13% of opening (bench/protect.ts), and file writers batch buffered pieces with writev.
   * Output is never held back longer than its input piece.
   */
  private release(): void {
    const parts = this.gathered;
    if (parts.length === 0) return;
    for (const part of parts) this.push(part);
    this.gathered = [];
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.settle.reject(error ?? new CloisterError('IO', 'the stream was destroyed before it ended'));
    done(error);
  }

  private guard(done: TransformCallback, work: () => void): void {
    try {
      work();
      done();
    } catch (e) {
      this.settle.reject(e);
      done(e as Error);
    }
  }
}

/**
 * The stream `createSealStream` returns: plaintext in, the protected file out, `result` the root.
 *
 * @example
 * ```ts
 * const seal: SealStream = createSealStream({ volumeKey, path: 'a.bin', version: 1, length: 5 });
 * seal.end(Buffer.from('hello'));
 * const { root } = await seal.result;
 * ```
 */
export class SealStream extends ResultTransform<SealStreamResult> {
  private readonly sealer: FileSealer;
  private readonly info: { version: bigint; length: number };

  constructor(o: SealStreamOptions) {
    super();
    const p = sealParams(o);
    const length = toLength(o.length, 'length');
    this.sealer = new FileSealer(p, length);
    this.info = { version: p.version, length };
    this.out(this.sealer.header);
  }

  protected step(piece: Buffer): void {
    this.sealer.write(piece, this.out);
  }

  protected finish(): SealStreamResult {
    return { root: this.sealer.end(this.out), ...this.info };
  }
}

/**
 * The stream `createOpenStream` returns: the protected file in, authenticated plaintext out,
 * `result` the version and root once the whole file has checked out.
 *
 * @example
 * ```ts
 * const open: OpenStream = createOpenStream({ volumeKey, path: 'a.bin' });
 * open.resume().end(sealed);
 * const { version } = await open.result;
 * ```
 */
export class OpenStream extends ResultTransform<OpenStreamResult> {
  private readonly opener: FileOpener;

  constructor(o: OpenOptions) {
    super();
    this.opener = new FileOpener(openParams(o));
  }

  protected step(piece: Buffer): void {
    this.opener.write(piece, this.out);
  }

  protected finish(): OpenStreamResult {
    return this.opener.end();
  }
}

/**
 * A Transform that seals `length` plaintext bytes written to it (in pieces of any size) into a
 * protected file, as `sealFile` would. The header carries the length, so it must be known first
 * (`fs.stat`); more or fewer bytes fail the stream with PROTECTED_OPTIONS_INVALID. `result`
 * resolves to the root once the stream has flushed. Options are validated at once (throws).
 *
 * @example
 * ```ts
 * const seal = createSealStream({ volumeKey, path: 'models/m.onnx', version: 1, length: (await stat(src)).size });
 * await pipeline(createReadStream(src), seal, createWriteStream(dst));
 * const { root } = await seal.result;
 * ```
 */
export function createSealStream(o: SealStreamOptions): SealStream {
  return new SealStream(o);
}

/**
 * A Transform that opens a protected file written to it, with `openFile`'s checks and errors.
 * It releases each chunk's plaintext as soon as that chunk authenticates, so a reader sees
 * earlier chunks before a later failure (a changed chunk 9, a truncated end, a root that is not
 * the expected one): treat the output as untrusted until the stream ends without error or
 * `result` resolves (write to a temporary file and rename it then). `openFile` buffers instead.
 *
 * @example
 * ```ts
 * const open = createOpenStream({ volumeKey, path: 'models/m.onnx', expectedRoot });
 * await pipeline(createReadStream(sealedPath), open, createWriteStream(tmp));
 * await rename(tmp, plainPath); // only now is the whole file authentic
 * ```
 */
export function createOpenStream(o: OpenOptions): OpenStream {
  return new OpenStream(o);
}

import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  close,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  open,
  openSync,
  readSync,
  renameSync,
  rmSync,
  watch,
  write,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * Test doubles of the TEE interfaces that behave as the kernel's and the library OS's do, so that
 * the providers run unchanged against them (`cloister sim emulate`). Attributes the guest writes
 * or reads are named pipes served by this process: each open-write-close of an input is one
 * write (as one write(2) to a configfs attribute), and an output is produced when it is opened
 * for reading, from the inputs written before (outputs wait for inputs in progress). The process
 * must run apart from the guest's (the guest's reads and writes block until it answers) with a
 * libuv thread pool large enough for the pipes it waits on (UV_THREADPOOL_SIZE).
 */

/** One emulated folder of attributes. */
export interface AttributeSpec {
  /** Regular files and their contents. */
  files?: Record<string, Uint8Array | string>;
  /** Attributes the guest writes: called with the bytes of each write. */
  inputs?: Record<string, (value: Uint8Array) => void>;
  /** Attributes the guest reads: produced at each read (an empty answer, the kernel's error, on failure). */
  outputs?: Record<string, () => Uint8Array | Promise<Uint8Array>>;
}

export interface Served {
  /** Stops serving: waiting opens are released and the folder removed. */
  close(): void;
}

/**
 * Serves the attributes of `spec` in `dir` (created when missing).
 *
 * @example
 * ```ts
 * const served = serveAttributes(dir, { files: { attestation_type: 'dcap\n' }, outputs: { quote: () => quote } });
 * ```
 */
export function serveAttributes(dir: string, spec: AttributeSpec, onError: (e: unknown) => void = () => {}): Served {
  mkdirSync(dir, { recursive: true });
  let closed = false;
  // The pipes first: a guest that sees the plain files (configfs-tsm's `provider`) finds them all.
  const inputNames = Object.keys(spec.inputs ?? {});
  const outputNames = Object.keys(spec.outputs ?? {});
  const pipes = [...inputNames, ...outputNames].map((name) => join(dir, name));
  if (pipes.length > 0) execFileSync('mkfifo', ['-m', '600', ...pipes]);
  for (const [name, content] of Object.entries(spec.files ?? {})) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content, { flag: 'wx', mode: 0o644 });
  }
  // Inputs are held open for reading and writing without blocking (Linux allows it on a pipe), so a
  // guest's open never waits and what it wrote stays in the pipe until drained. Every output drains
  // them first: what the guest wrote before it opened the output is then accounted for. (One
  // drain counts as one write: a guest writes an attribute once before reading, as configfs users do.)
  const inputs = Object.entries(spec.inputs ?? {}).map(([name, onWrite]) => ({
    fd: openSync(join(dir, name), constants.O_RDWR | constants.O_NONBLOCK),
    onWrite,
  }));
  const buf = Buffer.alloc(65536);
  const drain = () => {
    for (const input of inputs) {
      const chunks: Buffer[] = [];
      for (;;) {
        try {
          const n = readSync(input.fd, buf, 0, buf.length, null);
          if (n === 0) break;
          chunks.push(Buffer.from(buf.subarray(0, n)));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw e;
        }
      }
      if (chunks.length > 0) input.onWrite(new Uint8Array(Buffer.concat(chunks)));
    }
  };
  // Each read of an output gets a pipe of its own: once a guest has opened one, a fresh pipe
  // replaces it at its path, so a later open never shares it (which would answer a read twice).
  const replace = (path: string) => {
    const fresh = `${path}.${randomBytes(4).toString('hex')}`;
    execFileSync('mkfifo', ['-m', '600', fresh]);
    renameSync(fresh, path);
  };
  const serveOutput = (path: string, produce: () => Uint8Array | Promise<Uint8Array>) => {
    open(path, 'w', (error, fd) => {
      if (error || closed) return error ? onError(error) : close(fd, () => {});
      replace(path);
      serveOutput(path, produce);
      void (async () => {
        let data: Uint8Array = new Uint8Array();
        try {
          drain();
          data = await produce();
        } catch (e) {
          onError(e);
        }
        const rest = (at: number): void =>
          at >= data.length
            ? close(fd, () => {})
            : write(fd, data, at, data.length - at, null, (writeError, n) =>
                writeError ? close(fd, () => {}) : rest(at + n),
              );
        rest(0);
      })();
    });
  };
  for (const [name, produce] of Object.entries(spec.outputs ?? {})) serveOutput(join(dir, name), produce);

  return {
    close() {
      if (closed) return;
      closed = true;
      for (const input of inputs) closeSync(input.fd);
      // Release the opens waiting for a guest to read: the other side opened without blocking, then closed.
      for (const name of outputNames) {
        try {
          closeSync(openSync(join(dir, name), constants.O_RDONLY | constants.O_NONBLOCK));
        } catch {
          // nobody waits on it
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** How the emulated firmware answers a configfs-tsm request. */
export type TsmAnswer = (request: {
  inblob: Uint8Array;
  privlevel: number;
}) => Promise<{ outblob: Uint8Array; auxblob?: Uint8Array | undefined }>;

export interface TsmEmulatorOptions {
  /** The emulated mount point: `report/` is made in it. */
  root: string;
  /** The kernel provider: `tdx_guest` or `sev_guest`. */
  provider: 'tdx_guest' | 'sev_guest';
  answer: TsmAnswer;
  /** A second writer: right after the guest's first inblob write to an entry, it writes its own. */
  concurrentWriter?: boolean | undefined;
  /** A broken provider that answers every request with the first outblob it produced. */
  stale?: boolean | undefined;
  /** How many entries are kept before the oldest is removed (the guest cannot rmdir an emulated one). */
  keep?: number | undefined;
  onError?: ((e: unknown) => void) | undefined;
}

/**
 * A configfs-tsm tree (Documentation/ABI/testing/configfs-tsm) in a folder: a directory made in
 * `report/` gets the attributes `provider`, `privlevel_floor`, `inblob`, `privlevel`, `outblob`,
 * `auxblob` and `generation`, which counts every write to the entry.
 *
 * @example
 * ```ts
 * const tree = emulateTsm({ root, provider: 'tdx_guest', answer: async ({ inblob }) => ({ outblob: quoteFor(inblob) }) });
 * ```
 */
export function emulateTsm(options: TsmEmulatorOptions): Served {
  const reports = join(options.root, 'report');
  mkdirSync(reports, { recursive: true });
  const entries = new Map<string, Served>();
  let first: Promise<{ outblob: Uint8Array; auxblob?: Uint8Array | undefined }> | undefined;
  const snp = options.provider === 'sev_guest';

  const add = (name: string) => {
    const dir = join(reports, name);
    if (entries.has(name) || !existsSync(dir)) return;
    const state = { generation: 0, inblob: undefined as Uint8Array | undefined, privlevel: 0, rogue: false };
    let answer: ReturnType<TsmAnswer> | undefined;
    const request = () => {
      const inblob = state.inblob;
      // The kernel refuses to read outblob before inblob is written (EINVAL): an empty answer here.
      if (inblob === undefined) throw new Error(`${dir}: outblob read before inblob was written`);
      answer ??= options.stale
        ? (first ??= options.answer({ inblob, privlevel: state.privlevel }))
        : options.answer({ inblob, privlevel: state.privlevel });
      return answer;
    };
    const written = (apply: (value: Uint8Array) => void) => (value: Uint8Array) => {
      state.generation++;
      answer = undefined;
      apply(value);
      if (options.concurrentWriter && !state.rogue && state.inblob !== undefined) {
        state.rogue = true;
        state.generation++;
        state.inblob = new Uint8Array(randomBytes(64));
      }
    };
    entries.set(
      name,
      serveAttributes(
        dir,
        {
          files: { provider: `${options.provider}\n`, privlevel_floor: '0\n' },
          inputs: {
            inblob: written((value) => {
              state.inblob = value.length <= 64 ? value : undefined;
            }),
            ...(snp
              ? {
                  privlevel: written((value) => {
                    state.privlevel = Number(Buffer.from(value).toString('latin1').trim());
                  }),
                }
              : {}),
          },
          outputs: {
            outblob: async () => (await request()).outblob,
            ...(snp ? { auxblob: async () => (await request()).auxblob ?? new Uint8Array() } : {}),
            generation: () => Buffer.from(`${state.generation}\n`),
          },
        },
        options.onError,
      ),
    );
    // Entries are never removed by the guest here: the oldest go once there are more than `keep`.
    for (const [old, served] of entries) {
      if (entries.size <= (options.keep ?? 8)) break;
      served.close();
      entries.delete(old);
    }
  };
  const watcher = watch(reports, (_event, name) => {
    if (typeof name === 'string') add(name);
  });
  return {
    close() {
      watcher.close();
      for (const served of entries.values()) served.close();
      entries.clear();
    },
  };
}

/** Options of {@link emulateDevAttestation}. */
export interface DevAttestationEmulatorOptions {
  /** The emulated `/dev/attestation`. */
  dir: string;
  /** A quote over the 64 bytes last written to `user_report_data`. */
  quote: (userReportData: Uint8Array) => Promise<Uint8Array> | Uint8Array;
  /** `attestation_type` (`dcap` by default). */
  attestationType?: string | undefined;
  onError?: ((e: unknown) => void) | undefined;
}

/**
 * Gramine's `/dev/attestation` (libos/src/fs/dev/attestation.c) in a folder: `attestation_type`,
 * `user_report_data` (exactly 64 bytes per write, as Gramine requires) and `quote`.
 *
 * @example `const dev = emulateDevAttestation({ dir, quote: (data) => simQuote(platform, { ...id, reportData: data }) })`
 */
export function emulateDevAttestation(options: DevAttestationEmulatorOptions): Served {
  let userReportData: Uint8Array | undefined;
  return serveAttributes(
    options.dir,
    {
      files: { attestation_type: `${options.attestationType ?? 'dcap'}\n` },
      inputs: {
        user_report_data: (value) => {
          userReportData = value.length === 64 ? value : undefined;
        },
      },
      outputs: {
        quote: () => {
          if (!userReportData) throw new Error(`${options.dir}: quote read without 64 bytes of user_report_data`);
          return options.quote(userReportData);
        },
      },
    },
    options.onError,
  );
}

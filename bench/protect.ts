import { spawnSync } from 'node:child_process';
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  createOpenStream,
  createSealStream,
  openFile,
  openToFile,
  sealFile,
  sealToFile,
} from '../src/protect/index.js';

/**
 * Protected-file throughput: sealing and opening a 1 GiB file in memory (buffered, and
 * node:stream from memory to nowhere) and file to file (sealToFile, openToFile), against raw
 * AES-256-GCM with node:crypto over the same buffer (one cipher per 64 KiB chunk, as NOTES.md
 * measures it) and against `age` (X25519 recipient, ChaCha20-Poly1305 STREAM, 64 KiB chunks) on
 * the same file, timed as the wall time of its process.
 *
 * The in-memory rows and raw AES-GCM run on this thread alone. File to file, both programs read
 * the same input file and write a new output file on the same filesystem in every pass (removed
 * between passes, untimed); neither fsyncs; the input stays in memory throughout (tmpfs, or the
 * page cache of a file just written): warm. cloister's rows are timed from opening the input to
 * renaming the output, with its worker threads (the default count, and none); age is one
 * process. A plain copy (the same reads and writes, no crypto) shows what the filesystem costs
 * alone. The CPU column is user + system time of all threads (ours) or of the age process, per
 * GB: unlike wall time it hardly depends on what else the machine runs.
 */

const GiB = 1 << 30;
const CHUNK = 1 << 16;
const TAG = 16;
const PIECE = 1 << 20;
const INSTALL_AGE = fileURLToPath(new URL('../../scripts/install-age.sh', import.meta.url));
/**
 * Files live in memory (tmpfs) when the machine has /dev/shm, so file-to-file rows measure
 * the programs rather than the disk (here an ext4 with online discard, whose deletes stall
 * later writes): BENCH_TMPDIR chooses another place.
 */
const TEMP_ROOT = process.env['BENCH_TMPDIR'] ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());

/** One row of the table: a pass over the whole file, and the row it is compared with. */
interface Case {
  label: string;
  pass: () => unknown;
  /** CPU seconds the pass used: this process's threads, or the children it waited for. */
  cpu?: 'self' | 'children';
  /** Untimed, after every pass (removing the output file). */
  after?: () => void;
  versus?: { label: string; name: 'raw' | 'raw+buffer' | 'age' };
}

/**
 * A full garbage collection, between passes (untimed): a pass that allocates a whole-file buffer
 * would otherwise pay for freeing the previous pass's, whichever row that was.
 */
const collect: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * GB/s of every case, measured in rounds of one pass each, in table order, until every case has
 * run for `seconds` (one pass at least): this machine's speed drifts by tens of percent over a
 * minute (memory given back to the host, other tenants), and rounds spread the drift evenly.
 */
async function measureAll(
  cases: Case[],
  bytes: number,
  seconds: number,
): Promise<Map<string, { gbps: number; cpu: number }>> {
  const spent = new Map(cases.map((c) => [c.label, { time: 0, cpu: 0, passes: 0 }]));
  const remaining = () => cases.filter((c) => (spent.get(c.label)?.time ?? 0) < seconds);
  for (let round = remaining(); round.length > 0; round = remaining()) {
    for (const c of round) {
      const cpu = cpuSeconds[c.cpu ?? 'self'];
      const [start, startCpu] = [process.hrtime.bigint(), cpu()];
      await c.pass();
      const s = spent.get(c.label) as { time: number; cpu: number; passes: number };
      s.time += Number(process.hrtime.bigint() - start) / 1e9;
      s.cpu += cpu() - startCpu;
      s.passes += 1;
      c.after?.();
      collect();
    }
  }
  return new Map(
    [...spent].map(([label, s]) => [
      label,
      { gbps: (bytes * s.passes) / s.time / 1e9, cpu: s.cpu / ((bytes * s.passes) / 1e9) },
    ]),
  );
}

/** Clock ticks per second of /proc's times. */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User + system CPU seconds of this process's threads, and of the children it has waited for (Linux /proc; NaN elsewhere). */
const cpuSeconds = {
  self: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
  children: () => {
    try {
      // proc(5): fields 16 and 17 are cutime and cstime; the command name (field 2) may hold spaces.
      const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
      return (Number(fields[13]) + Number(fields[14])) / TICKS;
    } catch {
      return NaN;
    }
  },
};

/** The reads and writes of file-to-file sealing and opening: 4 MiB (src/protect/io/files.ts). */
const RUN = 4 << 20;

/** Copies `from` to `to` with reads and writes of the size file-to-file sealing uses, one after the other, no crypto. */
async function copyFile(from: string, to: string): Promise<void> {
  const [source, target] = [await open(from, 'r'), await open(to, 'wx')];
  try {
    const buffer = Buffer.allocUnsafe(RUN);
    for (let at = 0, n = 0; (n = (await source.read(buffer, 0, RUN, at)).bytesRead) > 0; at += n)
      await target.write(buffer, 0, n, at);
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}

/** Raw AES-256-GCM, one cipher per 64 KiB chunk, nonce = chunk counter; output handed to `sink` (or dropped). */
function rawEncrypt(key: KeyObject, data: Uint8Array, sink?: (out: Buffer, tag: Buffer, at: number) => void): void {
  const nonce = Buffer.alloc(12);
  for (let at = 0, i = 0; at < data.length; at += CHUNK, i++) {
    nonce.writeUInt32BE(i, 8);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    const out = cipher.update(data.subarray(at, at + CHUNK));
    cipher.final();
    sink?.(out, cipher.getAuthTag(), at);
  }
}

/** The inverse over `rawEncrypt`'s ciphertext and tags, each chunk authenticated; output to `sink` (or dropped). */
function rawDecrypt(
  key: KeyObject,
  ciphertext: Uint8Array,
  tags: Uint8Array,
  sink?: (out: Buffer, at: number) => void,
): void {
  const nonce = Buffer.alloc(12);
  for (let at = 0, i = 0; at < ciphertext.length; at += CHUNK, i++) {
    nonce.writeUInt32BE(i, 8);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce).setAuthTag(tags.subarray(i * TAG, (i + 1) * TAG));
    const out = decipher.update(ciphertext.subarray(at, at + CHUNK));
    decipher.final();
    sink?.(out, at);
  }
}

const pieces = (bytes: Uint8Array) =>
  Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += PIECE) yield bytes.subarray(at, at + PIECE);
    })(),
  );
const nowhere = () => new Writable({ write: (_chunk, _encoding, done) => done() });
const through = (from: Readable, stream: Transform, to: Writable) => pipeline(from, stream, to);

/** `age` and `age-keygen`, installing them with scripts/install-age.sh when missing; undefined (and why) when that fails. */
function findAge(): { ok: true } | { ok: false; why: string } {
  const present = () => spawnSync('age', ['--version']).status === 0 && spawnSync('which', ['age-keygen']).status === 0;
  if (present()) return { ok: true };
  const install = spawnSync('sh', [INSTALL_AGE], { encoding: 'utf8' });
  if (present()) return { ok: true };
  return {
    ok: false,
    why: `age is not installed and ${INSTALL_AGE} could not install it: ${(install.stderr || install.stdout || String(install.error)).trim()}`,
  };
}

/** Load averages over 1, 5 and 15 minutes, as `uptime` shows them. */
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

/** Runs `age ARGS`, timed as the wall time of its process. */
function runAge(args: string[]): void {
  const r = spawnSync('age', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`age ${args.join(' ')} failed: ${r.stderr.toString()}`);
}

/**
 * Prints the table of protected-file throughput (GB/s, 1 GB = 10^9 bytes) with ratios to raw
 * AES-256-GCM and to `age`. `size` is for quick checks; the figures of record use 1 GiB.
 *
 * @example
 * ```ts
 * await benchProtect(3); // from bench/main.ts
 * ```
 */
export async function benchProtect(seconds: number, size = GiB): Promise<void> {
  const dir = mkdtempSync(join(TEMP_ROOT, 'cloister-bench-protect-'));
  try {
    const input = join(dir, 'plain.bin');
    const plain = randomFillSync(new Uint8Array(size));
    writeFileSync(input, plain);
    const volumeKey = randomBytes(32);
    const key = createSecretKey(randomBytes(32));
    const o = { volumeKey, path: 'bench/plain.bin' };

    // Untimed: ciphertext for the raw decryption rows, the sealed file, a warm-up of both paths.
    const rawCiphertext = Buffer.allocUnsafe(size);
    const rawTags = Buffer.allocUnsafe(Math.ceil(size / CHUNK) * TAG);
    rawEncrypt(key, plain, (out, tag, at) => {
      out.copy(rawCiphertext, at);
      tag.copy(rawTags, (at / CHUNK) * TAG);
    });
    const { sealed } = sealFile(plain, { ...o, version: 1 });
    const sealedPath = join(dir, 'plain.sealed');
    writeFileSync(sealedPath, sealed);
    openFile(sealed, o);
    const output = join(dir, 'out.bin');
    const after = () => rmSync(output, { force: true });

    const loadBefore = load();
    const THREADS = Math.min(4, availableParallelism());
    const RAW_ENC = 'raw AES-256-GCM encrypt, output dropped';
    const RAW_ENC_KEPT = 'raw AES-256-GCM encrypt into one new buffer';
    const RAW_DEC = 'raw AES-256-GCM decrypt, output dropped';
    const RAW_DEC_KEPT = 'raw AES-256-GCM decrypt into one new buffer';
    const OPEN_MEMORY = 'open stream (memory to nowhere)';
    const SEAL_FILES = `sealToFile, file to file, ${THREADS} threads`;
    const OPEN_FILES = `openToFile, file to file, ${THREADS} threads`;
    const age = findAge();
    const ageRows: Case[] = [];
    if (age.ok) {
      const identity = join(dir, 'age-key.txt');
      spawnSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
      const recipient = spawnSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).stdout.trim();
      const ageFile = join(dir, 'plain.age');
      runAge(['-r', recipient, '-o', ageFile, input]);
      const version = spawnSync('age', ['--version'], { encoding: 'utf8' }).stdout.trim();
      ageRows.push(
        {
          label: `age ${version} -r (encrypt), file to file`,
          pass: () => runAge(['-r', recipient, '-o', output, input]),
          after,
          cpu: 'children',
        },
        {
          label: `age ${version} -d -i (decrypt), file to file`,
          pass: () => runAge(['-d', '-i', identity, '-o', output, ageFile]),
          after,
          cpu: 'children',
        },
      );
    }
    const [ageEncrypt, ageDecrypt] = ageRows;
    const cases: Case[] = [
      { label: RAW_ENC, pass: () => rawEncrypt(key, plain) },
      { label: RAW_DEC, pass: () => rawDecrypt(key, rawCiphertext, rawTags) },
      {
        label: RAW_ENC_KEPT,
        pass: () => {
          const out = Buffer.allocUnsafeSlow(size + rawTags.length);
          rawEncrypt(key, plain, (b, tag, at) => {
            b.copy(out, at + (at / CHUNK) * TAG);
            tag.copy(out, at + (at / CHUNK) * TAG + b.length);
          });
        },
      },
      {
        label: RAW_DEC_KEPT,
        pass: () => {
          const out = Buffer.allocUnsafeSlow(size);
          rawDecrypt(key, rawCiphertext, rawTags, (b, at) => b.copy(out, at));
        },
      },
      {
        label: 'sealFile (buffered, in memory)',
        pass: () => sealFile(plain, { ...o, version: 1 }),
        versus: { label: RAW_ENC_KEPT, name: 'raw+buffer' },
      },
      {
        label: 'openFile (buffered, in memory)',
        pass: () => openFile(sealed, o),
        versus: { label: RAW_DEC_KEPT, name: 'raw+buffer' },
      },
      {
        label: 'seal stream (memory to nowhere)',
        pass: () => through(pieces(plain), createSealStream({ ...o, version: 1, length: size }), nowhere()),
        versus: { label: RAW_ENC, name: 'raw' },
      },
      {
        label: OPEN_MEMORY,
        pass: () => through(pieces(sealed), createOpenStream(o), nowhere()),
        versus: { label: RAW_DEC, name: 'raw' },
      },
      { label: 'copy file to file, no crypto (4 MiB reads, writes)', pass: () => copyFile(sealedPath, output), after },
      ...[THREADS, 0].flatMap((threads): Case[] => [
        {
          label: threads === THREADS ? SEAL_FILES : 'sealToFile, file to file, no threads',
          after,
          pass: () => sealToFile(input, output, { ...o, version: 1, threads }),
          ...(ageEncrypt && { versus: { label: ageEncrypt.label, name: 'age' as const } }),
        },
        {
          label: threads === THREADS ? OPEN_FILES : 'openToFile, file to file, no threads',
          after,
          pass: () => openToFile(sealedPath, output, { ...o, threads }),
          ...(ageDecrypt && { versus: { label: ageDecrypt.label, name: 'age' as const } }),
        },
      ]),
      {
        label: `openToFile, verify only (no output), ${THREADS} threads`,
        pass: () => openToFile(sealedPath, undefined, { ...o, threads: THREADS }),
      },
      ...ageRows,
    ];
    const measured = await measureAll(cases, size, seconds);
    const rate = (label: string) => measured.get(label)?.gbps ?? NaN;
    const cpu = (label: string) => measured.get(label)?.cpu ?? NaN;

    const mib = size / (1 << 20);
    console.log(
      `\nProtected files: ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`} of random data, 64 KiB chunks, at least ${seconds} s per row in interleaved rounds; GB = 10^9 bytes`,
    );
    console.log(
      `${availableParallelism()} cores; load average ${loadBefore} before, ${load()} after (other processes share the cores: wall times vary about 2x run to run)`,
    );
    console.log(
      `files in ${TEMP_ROOT}, input warm (in memory), each pass writing a new output file there, removed between passes; no fsync\n`,
    );
    console.log(`${'operation'.padEnd(52)} ${'GB/s'.padStart(6)} ${'CPU s/GB'.padStart(9)}   ratio`);
    for (const c of cases) {
      const v = c.versus;
      const ratio =
        v === undefined
          ? ''
          : v.name === 'age'
            ? `${(rate(c.label) / rate(v.label)).toFixed(1)}x ${v.name}`
            : `${((100 * rate(c.label)) / rate(v.label)).toFixed(0)}% of ${v.name}`;
      console.log(
        `${c.label.padEnd(52)} ${rate(c.label).toFixed(2).padStart(6)} ${cpu(c.label).toFixed(2).padStart(9)}   ${ratio}`,
      );
    }
    const versus = (ours: string, theirs: Case | undefined) =>
      theirs ? `${(rate(ours) / rate(theirs.label)).toFixed(1)}x` : 'not measured';
    console.log(
      `\ntargets: opening at >= 80% of raw AES-256-GCM (one core): ${((100 * rate(OPEN_MEMORY)) / rate(RAW_DEC)).toFixed(0)}% (open stream)`,
    );
    console.log(
      `         >= 2x age, file to file with ${THREADS} threads: seal ${versus(SEAL_FILES, ageEncrypt)}, open ${versus(OPEN_FILES, ageDecrypt)}`,
    );
    console.log(
      'buffered rows pay for first-touch page faults of a fresh output buffer of the whole file, as "raw ... into one new buffer" does',
    );
    if (!age.ok) console.log(`${age.why}\n(no age figures: the file-to-file rows have no peer in this run)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

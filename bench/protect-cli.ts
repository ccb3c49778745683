import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cloister, pinRoot, startCoordinator } from '../test/e2e/harness.js';
import { adminCert } from '../test/e2e/users.js';

/**
 * Protected volumes through the commands users run: `cloister protect seal` and `cloister
 * protect open` as whole processes against a real simulation coordinator (each asks it for the
 * volume key over mutual TLS; seal registers the roots), on one large file and on a folder of
 * mixed files, against `age` in the same run: `age -r` / `age -d` on the large file, and for the
 * folder what an age user runs, `tar -c | age -r` and `age -d | tar -x`. Wall time of the process
 * (or the shell pipeline), start to exit, files on tmpfs (BENCH_TMPDIR chooses another place),
 * inputs warm. cloister fsyncs every sealed file and its folder (age does not; on tmpfs an fsync
 * costs nothing). Start-up is reported on its own: a process that only prints its version, and
 * a seal of an empty folder (start-up, TLS to the coordinator, key, register). Peak memory is
 * the process's VmHWM (Linux), read while it runs. Nothing is cached between passes: every pass
 * is a new process; the coordinator keeps its state as it would.
 */

const MiB = 1 << 20;
const TEMP_ROOT = process.env['BENCH_TMPDIR'] ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
/** The large file (256 MiB, as the issue measured; BENCH_CLI_MIB for another size). */
const LARGE_MIB = Number(process.env['BENCH_CLI_MIB'] ?? 256);
/** The mixed folder: many small files (1-64 KiB) and a few of 32 MiB. */
const SMALL_FILES = 2000;
const LARGE_FILES = 4;

interface Timed {
  seconds: number;
  /** Peak resident memory in MiB (VmHWM), NaN where /proc is missing. */
  peakMiB: number;
}

/** Runs a process to its end, timed, polling its VmHWM; throws with its stderr on failure. */
function timed(command: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peak = NaN;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (match) peak = Number(match[1]) / 1024;
      } catch {
        // The process has exited between two polls.
      }
    }, 10);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (code === 0) resolve({ seconds, peakMiB: peak });
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

interface Row {
  label: string;
  bytes: number;
  pass: () => Promise<Timed>;
  after?: () => void;
}

/** Median seconds and the highest peak of `passes` passes of each row, in interleaved rounds. */
async function measure(rows: Row[], passes: number): Promise<Map<string, { seconds: number; peakMiB: number }>> {
  const seen = new Map<string, Timed[]>(rows.map((r) => [r.label, []]));
  for (let i = 0; i < passes; i++)
    for (const row of rows) {
      seen.get(row.label)?.push(await row.pass());
      row.after?.();
    }
  return new Map(
    [...seen].map(([label, ts]) => {
      const sorted = ts.map((t) => t.seconds).sort((a, b) => a - b);
      return [
        label,
        { seconds: sorted[Math.floor(sorted.length / 2)] ?? NaN, peakMiB: Math.max(...ts.map((t) => t.peakMiB)) },
      ];
    }),
  );
}

function fill(path: string, bytes: number): void {
  const buffer = Buffer.allocUnsafe(Math.min(bytes, 16 * MiB));
  writeFileSync(path, '');
  for (let left = bytes; left > 0; left -= buffer.length) {
    randomFillSync(buffer);
    writeFileSync(path, buffer.subarray(0, Math.min(left, buffer.length)), { flag: 'a' });
  }
}

/** The mixed folder; returns its size in bytes. */
function mixedFolder(dir: string): number {
  let bytes = 0;
  for (let i = 0; i < SMALL_FILES; i++) {
    const sub = join(dir, `d${i % 20}`);
    mkdirSync(sub, { recursive: true });
    const size = 1024 + ((i * 7919) % 63) * 1024;
    fill(join(sub, `f${i}.bin`), size);
    bytes += size;
  }
  for (let i = 0; i < LARGE_FILES; i++) {
    fill(join(dir, `large${i}.bin`), 32 * MiB);
    bytes += 32 * MiB;
  }
  return bytes;
}

const ageInstalled = () => spawnSync('age', ['--version']).status === 0;

/**
 * Prints the table: MB/s (10^6 bytes per second of wall time) and peak memory of each command,
 * and cloister's ratio to age.
 *
 * @example
 * ```ts
 * await benchProtectCli(); // from bench/main.ts
 * ```
 */
export async function benchProtectCli(passes = Number(process.env['BENCH_CLI_PASSES'] ?? 3)): Promise<void> {
  const dir = mkdtempSync(join(TEMP_ROOT, 'cloister-bench-cli-'));
  const at = (...p: string[]) => join(dir, ...p);
  const coordinator = await startCoordinator(at('data-dir'), at('sim'));
  try {
    const user = await adminCert();
    writeFileSync(at('admin.pem'), user.cert);
    writeFileSync(at('admin.key'), user.key);
    const volume = (sealed: string) => ({ Mode: 'read-only', Services: [], Sealed: sealed, Path: `${sealed}.plain` });
    writeFileSync(
      at('manifest.json'),
      JSON.stringify({
        Packages: { app: { UniqueID: '00'.repeat(32), TEE: 'sim' } },
        Marbles: { app: { Package: 'app' } },
        Volumes: { large: volume('large'), mixed: volume('mixed'), empty: volume('empty') },
        Users: { admin: { Certificate: user.cert, Roles: ['volumes'] } },
        Roles: {
          volumes: {
            ResourceType: 'Volumes',
            ResourceNames: ['large', 'mixed', 'empty'],
            Actions: ['SealVolume', 'ResealVolume', 'OpenVolume'],
          },
        },
      }),
    );
    if ((await pinRoot(coordinator, at('sim'), at('root.pem'))).code !== 0) throw new Error('cannot pin the root');
    const set = await cloister([
      'manifest',
      'set',
      at('manifest.json'),
      '--coordinator',
      coordinator.client,
      '--root',
      at('root.pem'),
    ]);
    if (set.code !== 0) throw new Error(set.stderr);
    const client = [
      '--coordinator',
      coordinator.client,
      '--root',
      at('root.pem'),
      '--cert',
      at('admin.pem'),
      '--key',
      at('admin.key'),
    ];
    const cli = (...args: string[]) => timed(process.execPath, [BIN, ...args, ...client]);

    mkdirSync(at('large'));
    fill(at('large', 'model.bin'), LARGE_MIB * MiB);
    mkdirSync(at('mixed'));
    const mixedBytes = mixedFolder(at('mixed'));
    mkdirSync(at('empty'));
    const remove =
      (...paths: string[]) =>
      () =>
        paths.forEach((p) => rmSync(at(p), { recursive: true, force: true }));
    // Untimed: the sealed folders the open rows read (each seal pass writes them again).
    for (const name of ['large', 'mixed'])
      await cli('protect', 'seal', at(name), '--volume', name, '--out', at(`${name}.sealed`));

    const rows: Row[] = [
      {
        label: 'cloister --version (process start-up)',
        bytes: 0,
        pass: () => timed(process.execPath, [BIN, '--version']),
      },
      {
        label: 'cloister protect seal, empty folder',
        bytes: 0,
        pass: () => cli('protect', 'seal', at('empty'), '--volume', 'empty', '--out', at('empty.sealed')),
      },
    ];
    const large = LARGE_MIB * MiB;
    const largeName = `one file of ${LARGE_MIB} MiB`;
    const mixedName = `${SMALL_FILES} files of 1-64 KiB + ${LARGE_FILES} of 32 MiB`;
    // Every seal pass re-registers the folder's roots, so it seals into the folder the open rows read.
    const seal = (name: string, what: string, bytes: number): Row => ({
      label: `cloister protect seal, ${what}`,
      bytes,
      pass: () => cli('protect', 'seal', at(name), '--volume', name, '--out', at(`${name}.sealed`)),
    });
    const open = (name: string, what: string, bytes: number): Row => ({
      label: `cloister protect open, ${what}`,
      bytes,
      pass: () => cli('protect', 'open', at(`${name}.sealed`), '--volume', name, '--out', at('out.plain')),
      after: remove('out.plain'),
    });
    const age = ageInstalled();
    const identity = at('age-key.txt');
    let recipient = '';
    if (age) {
      spawnSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
      recipient = spawnSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).stdout.trim();
      spawnSync('age', ['-r', recipient, '-o', at('large.age'), at('large', 'model.bin')]);
      spawnSync('sh', ['-c', `tar -cf - -C '${at('mixed')}' . | age -r ${recipient} -o '${at('mixed.age')}'`]);
    }
    const peer = (label: string, bytes: number, script: string, output: string): Row | undefined =>
      age ? { label, bytes, pass: () => timed('sh', ['-c', script]), after: remove(output) } : undefined;
    const pairs: Array<{ ours: Row; age: Row | undefined }> = [
      {
        ours: seal('large', largeName, large),
        age: peer(
          `age -r, ${largeName}`,
          large,
          `age -r ${recipient} -o '${at('out.age')}' '${at('large', 'model.bin')}'`,
          'out.age',
        ),
      },
      {
        ours: open('large', largeName, large),
        age: peer(
          `age -d, ${largeName}`,
          large,
          `age -d -i '${identity}' -o '${at('out.bin')}' '${at('large.age')}'`,
          'out.bin',
        ),
      },
      {
        ours: seal('mixed', mixedName, mixedBytes),
        age: peer(
          `tar -c | age -r, ${mixedName}`,
          mixedBytes,
          `tar -cf - -C '${at('mixed')}' . | age -r ${recipient} -o '${at('out.age')}'`,
          'out.age',
        ),
      },
      {
        ours: open('mixed', mixedName, mixedBytes),
        age: peer(
          `age -d | tar -x, ${mixedName}`,
          mixedBytes,
          `mkdir '${at('out.tar')}' && age -d -i '${identity}' '${at('mixed.age')}' | tar -xf - -C '${at('out.tar')}'`,
          'out.tar',
        ),
      },
    ];
    const all = [...rows, ...pairs.flatMap((p) => (p.age ? [p.ours, p.age] : [p.ours]))];
    const measured = await measure(all, passes);
    const rate = (row: Row) => row.bytes / (measured.get(row.label)?.seconds ?? NaN) / 1e6;

    console.log(
      `\nProtected volumes through the CLI against a real coordinator (simulation): ${passes} passes per row, median wall time of the whole process, files in ${TEMP_ROOT}, ${availableParallelism()} cores`,
    );
    console.log(`${'command'.padEnd(66)} ${'MB/s'.padStart(7)} ${'ms'.padStart(7)} ${'peak MiB'.padStart(9)}   ratio`);
    for (const row of all) {
      const m = measured.get(row.label);
      const pair = pairs.find((p) => p.ours === row);
      const ratio = pair?.age ? `${(rate(row) / rate(pair.age)).toFixed(1)}x age` : '';
      console.log(
        `${row.label.padEnd(66)} ${(row.bytes > 0 ? rate(row).toFixed(0) : '').padStart(7)} ${((m?.seconds ?? NaN) * 1000).toFixed(0).padStart(7)} ${(m?.peakMiB ?? NaN).toFixed(0).padStart(9)}   ${ratio}`,
      );
    }
    if (!age)
      console.log('age is not installed (scripts/install-age.sh installs it as root): no peer figures in this run');
  } finally {
    await coordinator.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

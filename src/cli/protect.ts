import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { JsonReader } from '../lib/json.js';
import { openFolder, sealFolder } from '../protect/index.js';
import { decodeGrant, type FileRecord } from '../protocol/index.js';
import { action } from './io.js';
import { clientOptions, pinnedCall } from './client.js';

/**
 * `cloister protect`: seal a folder for a protected volume (the key comes from the coordinator,
 * for a user whose role allows it; the files' roots are registered), verify a sealed folder, or
 * open it for an authorised user. Every file streams (protect/io): memory stays bounded whatever
 * the sizes, large files are sealed and opened on worker threads (`--threads`), several files at a time.
 */
const coordinatorAnswer = new JsonReader('COORDINATOR_ERROR', 'volume');

type ProtectOptions = Parameters<typeof pinnedCall>[0] & { volume: string; threads?: number; json?: boolean };

/** `--threads N`: the worker threads for files of 8 MiB or more (protect/io validates the number). */
const threads = (): Option =>
  new Option('--threads <n>', 'worker threads for large files (0 for none; default: cores, at most 4)').argParser(
    (v) => (/^\d+$/.test(v) ? Number(v) : Number.NaN),
  );

export function registerProtect(program: Command): void {
  const protect = program.command('protect').description('protected volumes: seal, verify and open encrypted folders');
  const grant = async (o: Parameters<typeof pinnedCall>[0], volume: string, action: 'seal' | 'open') =>
    decodeGrant(
      coordinatorAnswer,
      (
        await pinnedCall(
          o,
          'GET',
          `/api/v1/volumes/key?volume=${encodeURIComponent(volume)}&action=${action}`,
          undefined,
          true,
        )
      ).json(),
      'volume',
    );

  clientOptions(
    protect
      .command('seal')
      .argument('<dir>', 'the plaintext folder (e.g. unpacked from an image layer)')
      .description('encrypt a folder for a volume and register its files with the coordinator'),
    true,
  )
    .requiredOption('--volume <name>', 'the volume of the manifest')
    .requiredOption('--out <dir>', "where the sealed files go (the volume's Sealed folder)")
    .addOption(threads())
    .action(
      action(async (dir: string, o: ProtectOptions & { out: string }) => {
        const g = await grant(o, o.volume, 'seal');
        mkdirSync(o.out, { recursive: true });
        const entries = await sealFolder(resolve(dir), resolve(o.out), {
          volumeKey: g.key,
          version: (path) => (g.files[path]?.version ?? 0) + 1,
          ...(o.threads !== undefined && { threads: o.threads }),
        });
        const files: Record<string, FileRecord> = Object.fromEntries(
          entries.map(({ path, version, root }) => [path, { version, root }]),
        );
        await pinnedCall(o, 'POST', '/api/v1/volumes/register', JSON.stringify({ volume: o.volume, files }), true);
        const count = Object.keys(files).length;
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ ok: true, volume: o.volume, files })}\n`
            : `sealed ${count} file${count === 1 ? '' : 's'} of ${dir} into ${o.out} for volume ${o.volume} (${g.mode}); roots registered\n`,
        );
      }),
    );

  for (const [name, describe] of [
    ['verify', "check a sealed folder against the coordinator's record"],
    ['open', 'decrypt a sealed folder (for a user with OpenVolume)'],
  ] as const) {
    const c = clientOptions(protect.command(name).argument('<dir>', 'the sealed folder').description(describe), true)
      .requiredOption('--volume <name>', 'the volume of the manifest')
      .addOption(threads());
    if (name === 'open') c.requiredOption('--out <dir>', 'where the plaintext goes (created with mode 0700)');
    c.action(
      action(async (dir: string, o: ProtectOptions & { out?: string }) => {
        const g = await grant(o, o.volume, 'open');
        if (o.out) mkdirSync(o.out, { recursive: true, mode: 0o700 });
        const count = (
          await openFolder(resolve(dir), o.out === undefined ? undefined : resolve(o.out), {
            volumeKey: g.key,
            expected: g.files,
            fileName: (path) => `${o.volume}/${path}`,
            ...(o.threads !== undefined && { threads: o.threads }),
          })
        ).length;
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ ok: true, volume: o.volume, files: count })}\n`
            : `${count} file${count === 1 ? '' : 's'} of volume ${o.volume} authentic and current${o.out ? `, decrypted into ${o.out}` : ''}\n`,
        );
      }),
    );
  }
}

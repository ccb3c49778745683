import { constants, createHash, privateDecrypt } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { pemCert } from '../pki/index.js';
import { checkExtends } from '../coordinator/history.js';
import { attestCoordinator, expectationFrom, type ExpectationOptions } from './attest-coordinator.js';
import { clientOptions, expectationOptions, pinnedCall, pinnedRoot, print, type Common } from './client.js';
import { call, parseAddress } from './net.js';
import { describeEntry, verifiedHistory } from './history-check.js';
import { action, cloisterHome, readInput, readJson, writeOutput } from './io.js';

/**
 * The lifecycle commands: `cloister recover` (MarbleRun's), `cloister history [verify]` and the
 * recovery data again (`cloister manifest recovery-data`).
 */

interface Seen {
  size: number;
  hash: string;
}

function readSeen(path: string): Seen | undefined {
  if (!existsSync(path)) return undefined;
  const r = new JsonReader('HISTORY_INVALID', 'seen');
  const o = r.object(readJson(path), 'seen', ['size', 'hash']);
  return { size: r.int(o, 'size'), hash: r.string(o, 'hash') };
}

interface RecoverOptions extends ExpectationOptions {
  coordinator: string;
  key?: string;
  acceptTcb: string[];
  json?: boolean;
}

/** The decrypted secret: the file as it is, or decrypted with the holder's key (RSA-OAEP-SHA256). */
function recoverySecret(file: string, keyFile: string | undefined): Uint8Array {
  const bytes = readInput(file);
  if (keyFile === undefined) return bytes;
  try {
    return new Uint8Array(
      privateDecrypt(
        {
          key: Buffer.from(readInput(keyFile)).toString('utf8'),
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        bytes,
      ),
    );
  } catch (cause) {
    throw new CloisterError('RECOVERY_SHARE_INVALID', `${file} does not decrypt with the key in ${keyFile}`, {
      cause,
    });
  }
}

export function registerLifecycle(program: Command): void {
  expectationOptions(
    program
      .command('recover')
      .argument('<secret-file>')
      .description(
        "upload a key holder's recovery secret to a coordinator in recovery mode (attested first): the decrypted secret, or with --key the encrypted one from RecoverySecrets",
      )
      .option('--coordinator <host:port>', "the coordinator's client API", 'localhost:4433')
      .option('--key <file>', 'the RSA private key (PEM) to decrypt the secret with (RSA-OAEP-SHA256)')
      .option('--json', 'print one JSON object'),
  ).action(
    action(async (file: string, o: RecoverOptions) => {
      const secret = recoverySecret(file, o.key);
      const to = parseAddress(o.coordinator, '--coordinator');
      // The secret goes only to an attested coordinator: its evidence binds the (temporary) root it serves under.
      const { root } = await attestCoordinator(to, expectationFrom(o), Date.now() / 1000);
      const answer = (await call(to, 'POST', '/api/v1/recover', { ca: pemCert(root), body: secret })).json<{
        holder: string;
        remaining: number;
        recovered: boolean;
      }>();
      print(
        o,
        { ok: true, ...answer },
        answer.recovered
          ? `recovery secret of ${answer.holder} accepted: recovery successful`
          : `recovery secret of ${answer.holder} accepted; remaining secrets: ${answer.remaining}`,
      );
    }),
  );

  const history = program.command('history').description("the coordinator's hash-chained history of changes");
  clientOptions(
    history.command('show', { isDefault: true }).description('print the history (checked against the pinned root)'),
  ).action(
    action(async (o: Common) => {
      const { entries } = await verifiedHistory(pinnedRoot(o), () => pinnedCall(o, 'GET', '/api/v1/history'));
      print(o, { ok: true, entries }, entries.map(describeEntry).join('\n') || 'no entries');
    }),
  );
  clientOptions(
    history
      .command('verify')
      .description(
        'check the chain and the signed head, and that the history extends the one seen last time (remembered per coordinator root)',
      )
      .option('--seen <file>', 'where the last head seen is kept (default: ~/.cloister/history/ROOT_SHA256.json)'),
  ).action(
    action(async (o: Common & { seen?: string }) => {
      const { entries, root } = await verifiedHistory(pinnedRoot(o), () => pinnedCall(o, 'GET', '/api/v1/history'));
      const path = o.seen ?? cloisterHome('history', `${createHash('sha256').update(root).digest('hex')}.json`);
      const seen = readSeen(path);
      if (seen) checkExtends(seen, entries);
      const head = { size: entries.length, hash: entries.at(-1)?.hash ?? '0'.repeat(64) };
      writeOutput(path, `${JSON.stringify(head)}\n`, 0o600);
      print(
        o,
        { ok: true, ...head, previous: seen ?? null, seen: path },
        `history verified: ${head.size} entries, head ${head.hash}${seen ? ` (extends the ${seen.size} seen before)` : ' (first seen now)'}`,
      );
    }),
  );

  const manifest = program.commands.find((c) => c.name() === 'manifest');
  if (manifest)
    clientOptions(
      manifest
        .command('recovery-data')
        .description("the recovery secrets again (MarbleRun's RecoverySecrets, each encrypted to its key holder)")
        .option('--out <file>', 'write them here (default: standard output)', '-'),
    ).action(
      action(async (o: Common & { out: string }) => {
        const answer = (await pinnedCall(o, 'GET', '/api/v1/recovery')).json<Record<string, unknown>>();
        writeOutput(o.out, `${JSON.stringify(answer)}\n`);
      }),
    );
}

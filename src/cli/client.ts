import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { hex } from '../lib/bytes.js';
import { claimText, TEE_KINDS } from '../attest/index.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { parseManifest, SECRET_TYPE_NAMES, simulationWarnings } from '../manifest/index.js';
import { pemCert } from '../pki/index.js';
import { measure, resolveProgram } from '../run/measure.js';
import { attestCoordinator, expectationFrom, type ExpectationOptions } from './attest-coordinator.js';
import { call, parseAddress, type Endpoint } from './net.js';
import { describeEntry, settingEntry, verifiedHistory } from './history-check.js';
import { action, cloisterHome, readInput, writeOutput } from './io.js';

/**
 * The client side: attest the coordinator and pin its root (`cloister verify`), then talk to it
 * only through that root (manifest, status, secrets, certificates).
 */

const DEFAULT_COORDINATOR = 'localhost:4433';
const pinPath = (to: Endpoint) => cloisterHome('coordinators', `${to.host.replace(/[^\w.-]/g, '_')}_${to.port}.pem`);
const collect = (v: string, all: string[]) => [...all, v];

export interface Common {
  coordinator: string;
  root?: string;
  cert?: string;
  key?: string;
  json?: boolean;
}

function endpoint(o: Common): Endpoint {
  return parseAddress(o.coordinator, '--coordinator');
}

/** What the coordinator says of an update (coordinator's UpdateStatus). */
interface UpdateAnswer {
  applied: boolean;
  fingerprint: string;
  acknowledged: string[];
  missing: string[];
  required?: number;
}

/** Where the pinned root of `o`'s coordinator is: `--root FILE`, else what `cloister verify` pinned. */
const pinFile = (o: Common): string => o.root ?? pinPath(endpoint(o));

/** The pinned root (PEM), or an error that says what the file holds instead. */
export function pinnedRoot(o: Common): string {
  const path = pinFile(o);
  if (!existsSync(path))
    throw new CloisterError(
      'COORDINATOR_UNTRUSTED',
      `no pinned root for ${o.coordinator}: run "cloister verify --coordinator ${o.coordinator}" first, or give --root FILE`,
    );
  const text = Buffer.from(readInput(path)).toString('utf8');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
    throw new CloisterError('USAGE', `${path} holds a private key: --root takes the coordinator's root certificate`, {
      path,
    });
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new CloisterError(
      'USAGE',
      `${path} holds no PEM certificate: --root takes the coordinator's root certificate`,
      {
        path,
      },
    );
  return text;
}

/** What a PEM file that is not what was asked for holds instead, in words. */
function pemContents(text: string): string {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /Proc-Type: 4,ENCRYPTED/.test(text))
    return 'holds an encrypted private key: give it without a passphrase (openssl pkey -in KEY -out KEY.plain)';
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return 'holds a private key';
  if (/-----BEGIN CERTIFICATE-----/.test(text)) return 'holds a certificate';
  if (/-----BEGIN /.test(text)) return `holds a PEM ${/-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1] ?? ''}`;
  return 'is not PEM (no -----BEGIN line)';
}

/**
 * The user's certificate and key for mutual TLS, checked here so that a wrong file is named and
 * said wrong in words (OpenSSL would say `PEM routines::no start line`).
 */
function userTls(o: Common): { cert?: string; key?: string } {
  if (!o.cert !== !o.key) throw new CloisterError('USAGE', '--cert and --key go together');
  if (!o.cert || !o.key) return {};
  const [cert, key] = [Buffer.from(readInput(o.cert)).toString('utf8'), Buffer.from(readInput(o.key)).toString('utf8')];
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    const holds = pemContents(cert);
    throw new CloisterError(
      'USAGE',
      `--cert ${o.cert} ${holds.startsWith('holds a certificate') ? 'holds a certificate that cannot be parsed' : holds}: --cert takes the user's certificate (PEM)`,
      { path: o.cert },
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    const holds = pemContents(key);
    throw new CloisterError(
      'USAGE',
      `--key ${o.key} ${holds === 'holds a private key' ? 'holds a private key that cannot be parsed' : holds}: --key takes the private key of --cert (PEM)`,
      { path: o.key },
    );
  }
  if (!certificate.checkPrivateKey(privateKey))
    throw new CloisterError('USAGE', `--key ${o.key} is not the private key of the certificate in --cert ${o.cert}`, {
      path: o.key,
    });
  return { cert, key };
}

export function print(o: { json?: boolean }, value: unknown, text: string): void {
  process.stdout.write(o.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

/**
 * One request through the pinned root, with the user's certificate when `user`. A server that does
 * not chain to the pin is said to be so, with where the pin is and how to pin again.
 */
export async function pinnedCall(o: Common, method: string, path: string, body?: string | Uint8Array, user = false) {
  const ca = pinnedRoot(o);
  try {
    return await call(endpoint(o), method, path, { ca, ...(user ? userTls(o) : {}), body });
  } catch (error) {
    if (error instanceof CloisterError && error.code === 'COORDINATOR_UNTRUSTED' && error.status === undefined) {
      await inRecoveryMode(o, error);
      throw new CloisterError(
        'COORDINATOR_UNTRUSTED',
        `${o.coordinator} does not present the coordinator certificate of the root pinned in ${pinFile(o)} (${error.message}). If this coordinator was re-created on purpose, attest it again: cloister verify --coordinator ${o.coordinator} --force`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * A coordinator in recovery mode serves under a temporary root (its own is sealed): when the pinned
 * one does not fit, its unauthenticated status says whether that is why, and the error says so.
 */
async function inRecoveryMode(o: Common, error: CloisterError): Promise<void> {
  const status = await recoveryStatus(o);
  if (status)
    throw new CloisterError(
      'RECOVERY_MODE',
      `${o.coordinator} says (unverified: it serves under a temporary root until recovered): ${status.message ?? 'recovery mode'}`,
      { cause: error },
    );
}

/** The status of a coordinator in recovery mode (unauthenticated: it has no root to pin yet), else undefined. */
async function recoveryStatus(o: Common): Promise<{ status: string; message?: string } | undefined> {
  const status = await call(endpoint(o), 'GET', '/api/v1/status').then(
    (r) => r.json<{ status?: string; message?: string }>(),
    () => undefined,
  );
  return status?.status === 'RecoveryMode' ? { ...status, status: status.status } : undefined;
}

/** The options that say which coordinator identity to accept (`verify`, `recover`). */
export function expectationOptions(c: Command): Command {
  return c
    .option('--simulation', 'accept a coordinator on the simulated platform (trusting the local simulation root)')
    .option('--sim-dir <dir>', 'the simulated platform whose root to trust')
    .option('--mrenclave <hex>', "the coordinator's expected MRENCLAVE")
    .option('--mrsigner <hex>', "the coordinator's expected MRSIGNER")
    .option(
      '--policy <file>',
      "the coordinator's expected identity and TCB as a JSON policy (as `cloister attest verify --policy`)",
    )
    .option('--accept-tcb <status>', 'a TCB status to accept besides UpToDate (repeatable)', collect, [] as string[]);
}

/** The options of commands that talk to the coordinator (and, for `user`, as a user of the manifest). */
export function clientOptions(c: Command, user = false): Command {
  c.option('--coordinator <host:port>', "the coordinator's client API", DEFAULT_COORDINATOR)
    .option('--root <file>', 'the coordinator root certificate (default: the one `cloister verify` pinned)')
    .option('--json', 'print one JSON object');
  return user
    ? c
        .requiredOption('--cert <file>', 'user certificate (PEM)')
        .requiredOption('--key <file>', 'user private key (PEM)')
    : c;
}

interface VerifyOptions extends Common, ExpectationOptions {
  acceptTcb: string[];
  rootOut?: string;
  force?: boolean;
}

/** Attests the coordinator (see `attestCoordinator`) and pins its root. */
async function verifyCoordinator(o: VerifyOptions): Promise<void> {
  const to = endpoint(o);
  const { root, verdict, manifestFingerprint } = await attestCoordinator(to, expectationFrom(o), Date.now() / 1000);
  const out = o.rootOut ?? pinPath(to);
  if (o.rootOut !== undefined && !existsSync(dirname(resolve(out))))
    throw new CloisterError('IO', `--root-out: the folder ${dirname(resolve(out))} does not exist`, { path: out });
  // A pin is never replaced silently: a different root is either an attack or a re-created coordinator.
  if (existsSync(out) && readFileSync(out, 'utf8') !== pemCert(root) && !o.force)
    throw new CloisterError(
      'COORDINATOR_UNTRUSTED',
      `${o.coordinator} was attested, but a different root is pinned for it in ${out}: keep that pin, or replace it with --force if the coordinator was re-created on purpose`,
      { path: out },
    );
  writeOutput(out, pemCert(root));
  const identity = TEE_KINDS[verdict.tee].identity.filter((name) => verdict.claims[name] !== undefined);
  print(
    o,
    {
      ok: true,
      root: out,
      tee: verdict.tee,
      tcbStatus: verdict.tcbStatus,
      simulation: verdict.simulation,
      ...Object.fromEntries(identity.map((name) => [name, verdict.claims[name]])),
      manifestFingerprint,
    },
    `coordinator ${o.coordinator} verified${verdict.simulation ? ' (SIMULATION)' : ''}: ${verdict.tcbStatus}, ${identity.map((name) => `${name} ${claimText(verdict.claims[name])}`).join(', ')}\nroot pinned in ${out}`,
  );
}

export function registerClient(program: Command): void {
  expectationOptions(
    program
      .command('verify')
      .description(
        'attest the coordinator with a fresh nonce against an expected identity (--mrenclave, --mrsigner or --policy; --simulation accepts a simulated one) and pin its root certificate',
      )
      .option('--coordinator <host:port>', "the coordinator's client API", DEFAULT_COORDINATOR),
  )
    .option('--root-out <file>', 'where to write the pinned root (default: ~/.cloister/coordinators/HOST_PORT.pem)')
    .option('--force', 'replace a different root pinned before')
    .option('--json', 'print one JSON object')
    .action(action(verifyCoordinator));

  const manifest = program
    .command('manifest')
    .description('the manifest: check offline, set, get, verify that the coordinator enforces a file, update');
  manifest
    .command('check')
    .argument('<file>')
    .description('validate a manifest offline and print its fingerprint')
    .option('--simulation', 'warn of what a coordinator on the simulated platform cannot run')
    .option('--json', 'print one JSON object')
    .action(
      action(async (file: string, o: { json?: boolean; simulation?: boolean }) => {
        const { fingerprint, manifest: m } = parseManifest(readInput(file));
        const warnings = o.simulation ? simulationWarnings(m) : [];
        if (!o.json) for (const w of warnings) process.stderr.write(`cloister: warning: ${w}\n`);
        print(
          o,
          { ok: true, fingerprint, services: Object.keys(m.Marbles), warnings },
          `valid manifest ${fingerprint} (services: ${Object.keys(m.Marbles).join(', ') || 'none'})`,
        );
      }),
    );
  for (const [name, describe] of [
    ['set', 'set the first manifest (later changes: manifest update)'],
    ['verify', 'check that the coordinator enforces exactly this manifest'],
  ] as const) {
    const command = clientOptions(manifest.command(name).argument('<file>').description(describe));
    if (name === 'set')
      command.option(
        '--recoverydata <file>',
        "write MarbleRun's RecoverySecrets here (default: in the output), each encrypted to its key holder",
      );
    command.action(
      action(async (file: string, o: Common & { recoverydata?: string }) => {
        const bytes = readInput(file);
        const { fingerprint: local, manifest: parsed } = parseManifest(bytes);
        const answer = (
          await (name === 'set'
            ? pinnedCall(o, 'POST', '/api/v1/manifest', bytes)
            : pinnedCall(o, 'GET', '/api/v1/manifest'))
        ).json<{ fingerprint: string; RecoverySecrets?: Record<string, string> }>();
        const remote = answer.fingerprint;
        if (remote !== local)
          throw new CloisterError(
            'COORDINATOR_UNTRUSTED',
            `the coordinator's manifest is ${remote}, this file is ${local}`,
          );
        // A simulation coordinator runs only simulated programs: say so before the first activation fails.
        const simulated =
          name === 'set' && (await pinnedCall(o, 'GET', '/api/v1/status')).json<{ simulation: boolean }>().simulation;
        const warnings = simulated ? simulationWarnings(parsed) : [];
        if (!o.json) for (const w of warnings) process.stderr.write(`cloister: warning: ${w}\n`);
        const recovery = answer.RecoverySecrets && { RecoverySecrets: answer.RecoverySecrets };
        if (recovery && o.recoverydata !== undefined)
          writeOutput(o.recoverydata, `${JSON.stringify(recovery)}\n`, 0o600);
        // Which history entry set the enforced manifest (the history checked against the pinned root).
        const setBy =
          name === 'verify'
            ? settingEntry(
                (await verifiedHistory(pinnedRoot(o), () => pinnedCall(o, 'GET', '/api/v1/history'))).entries,
                remote,
              )
            : undefined;
        const shown = recovery && o.recoverydata === undefined ? recovery : {};
        print(
          o,
          { ok: true, fingerprint: remote, ...(name === 'set' ? { warnings, ...shown } : { setBy: setBy ?? null }) },
          name === 'set'
            ? `manifest set: ${remote}${recovery ? (o.recoverydata === undefined ? `\n${JSON.stringify(recovery)}` : `\nrecovery secrets written to ${o.recoverydata}`) : ''}`
            : `the coordinator enforces this manifest: ${remote}${setBy ? `\nset by history entry ${describeEntry(setBy)}` : ''}`,
        );
      }),
    );
  }
  clientOptions(manifest.command('get').description('fetch the manifest the coordinator enforces'))
    .option('--out <file>', 'write it here (default: standard output)', '-')
    .action(
      action(async (o: Common & { out: string }) => {
        const m = (await pinnedCall(o, 'GET', '/api/v1/manifest')).json<{ fingerprint: string; manifest: string }>();
        const bytes = Buffer.from(m.manifest, 'base64');
        // With --json the manifest goes inside the one object (as JSON), unless --out takes its exact bytes.
        if (o.json && o.out === '-')
          print(
            o,
            { ok: true, fingerprint: m.fingerprint, manifest: JSON.parse(bytes.toString('utf8')) as unknown },
            '',
          );
        else {
          writeOutput(o.out, bytes);
          if (o.json) print(o, { ok: true, fingerprint: m.fingerprint, out: o.out }, '');
        }
      }),
    );

  // MarbleRun's `manifest update apply|acknowledge|cancel|get`, with the coordinator as --coordinator.
  const update = manifest
    .command('update')
    .description('change the enforced manifest: security versions at once, a whole manifest by approval');
  const describeUpdate = (u: UpdateAnswer) =>
    u.applied
      ? `update applied: the coordinator enforces ${u.fingerprint}`
      : `update ${u.fingerprint} pending: acknowledged by ${u.acknowledged.join(', ') || 'nobody'}; ${u.required ?? '?'} needed, missing ${u.missing.join(', ') || 'nobody'}`;
  for (const [name, path, describe] of [
    [
      'apply',
      '/api/v1/update',
      'apply a security-version update (Packages.*.SecurityVersion only), or propose a whole new manifest',
    ],
    ['acknowledge', '/api/v1/update/acknowledge', 'acknowledge the pending update: exactly the same manifest file'],
  ] as const) {
    clientOptions(update.command(name).argument('<file>').description(describe), true).action(
      action(async (file: string, o: Common) => {
        const answer = (await pinnedCall(o, 'POST', path, readInput(file), true)).json<UpdateAnswer>();
        print(o, answer, describeUpdate(answer));
      }),
    );
  }
  clientOptions(update.command('cancel').description('cancel the pending update'), true).action(
    action(async (o: Common) => {
      await pinnedCall(o, 'POST', '/api/v1/update/cancel', undefined, true);
      print(o, { ok: true }, 'pending update cancelled');
    }),
  );
  clientOptions(update.command('get').description('show the pending update and who has yet to acknowledge it'))
    .option('--out <file>', "write the pending manifest's bytes here")
    .action(
      action(async (o: Common & { out?: string }) => {
        const answer = (await pinnedCall(o, 'GET', '/api/v1/update')).json<UpdateAnswer & { manifest: string }>();
        if (o.out !== undefined) writeOutput(o.out, Buffer.from(answer.manifest, 'base64'));
        const { manifest: _bytes, ...status } = answer;
        print(o, status, describeUpdate(answer));
      }),
    );

  clientOptions(program.command('status').description("the coordinator's state")).action(
    action(async (o: Common) => {
      // MarbleRun's status says "recovery mode" too; here it is labelled unverified, as it is.
      const recovering = await pinnedCall(o, 'GET', '/api/v1/status').then(
        () => undefined,
        async (error: unknown) => {
          const status = error instanceof CloisterError && error.code === 'RECOVERY_MODE' && (await recoveryStatus(o));
          if (!status) throw error;
          return status;
        },
      );
      if (recovering) {
        print(o, { ...recovering, verified: false }, `RecoveryMode (unverified): ${recovering.message ?? ''}`);
        return;
      }
      const s = (await pinnedCall(o, 'GET', '/api/v1/status')).json<{
        status: string;
        simulation: boolean;
        manifestFingerprint?: string;
      }>();
      print(
        o,
        s,
        `${s.status}${s.simulation ? ' (SIMULATION: evidence from the simulated platform)' : ''}${s.manifestFingerprint ? `, manifest ${s.manifestFingerprint}` : ''}`,
      );
    }),
  );

  const certificate = program.command('certificate').description("the coordinator's certificates");
  clientOptions(certificate.command('chain').description('print the intermediate and root certificates (PEM)')).action(
    action(async (o: Common) => {
      const pem = (await pinnedCall(o, 'GET', '/api/v1/certificate')).body;
      if (!o.json) process.stdout.write(pem);
      else {
        const [intermediate, root] = pemCertificates(pem.toString('utf8'), "the coordinator's answer").map(pemCert);
        print(o, { ok: true, intermediate, root }, '');
      }
    }),
  );

  const secret = program.command('secret').description('read and write secrets as a user of the manifest');
  const userOptions = (c: Command) => clientOptions(c, true);
  userOptions(
    secret.command('get').argument('<names...>').description('print secrets (JSON: type and base64 fields)'),
  ).action(
    action(async (names: string[], o: Common) => {
      const query = names.map((n) => `s=${encodeURIComponent(n)}`).join('&');
      const r = await pinnedCall(o, 'GET', `/api/v1/secrets?${query}`, undefined, true);
      process.stdout.write(`${JSON.stringify(r.json())}\n`);
    }),
  );
  userOptions(
    secret
      .command('set')
      .argument('<name>')
      .description('set a user-defined secret from a file')
      .requiredOption(
        '--from <file>',
        'the value: raw bytes (plain, symmetric-key) or PEM certificate and key (cert-*)',
      )
      .addOption(
        new Option('--type <type>', 'the secret type of the manifest').choices(SECRET_TYPE_NAMES).makeOptionMandatory(),
      ),
  ).action(
    action(async (name: string, o: Common & { from: string; type: string }) => {
      const data = readInput(o.from);
      if (data.length === 0 && o.type !== 'plain')
        throw new CloisterError('USAGE', `--from ${o.from} is empty: a ${o.type} secret needs a value`);
      const text = Buffer.from(data).toString('utf8');
      const value: Record<string, string> = { type: o.type };
      if (o.type.startsWith('cert-')) {
        const [cert] = pemCertificates(
          text.replace(/-----BEGIN (?!CERTIFICATE)[\s\S]*?-----END [A-Z ]+-----/g, ''),
          '--from',
        );
        const key = /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/.exec(text);
        if (!cert || !key)
          throw new CloisterError('USAGE', '--from: a cert-* secret needs a PEM CERTIFICATE and a PKCS#8 PRIVATE KEY');
        value['cert'] = Buffer.from(cert).toString('base64');
        value['private'] = (key[1] as string).replace(/\s/g, '');
      } else value['key'] = Buffer.from(data).toString('base64');
      await pinnedCall(o, 'POST', '/api/v1/secrets', JSON.stringify({ [name]: value }), true);
      print(o, { ok: true }, `secret ${name} set`);
    }),
  );
}

/** `cloister sim measure`: the MRENCLAVE `cloister run` will present for a program. */
export function registerSimMeasure(sim: Command): void {
  sim
    .command('measure')
    .description('print the MRENCLAVE that `cloister run` presents for a program (to pin it in a manifest)')
    .option(
      '--measure <path>',
      "a file or folder that is part of the program's code (repeatable)",
      collect,
      [] as string[],
    )
    .option('--json', 'print one JSON object')
    .argument('<program>')
    .argument('[args...]')
    .action(
      action(async (prog: string, _args: string[], o: { measure: string[]; json?: boolean }) => {
        const m = hex(measure(resolveProgram(prog), o.measure));
        print(o, { ok: true, mrenclave: m }, m);
      }),
    );
}

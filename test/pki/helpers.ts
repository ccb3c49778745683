import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import * as px from '@peculiar/x509';
import { CloisterError } from '../../src/lib/errors.js';
import { pemCert, type CaBundle } from '../../src/pki/index.js';
import { tempDir } from '../e2e/harness.js';

/** The fixed "now" of the PKI tests (2025-06-15T15:06:40Z); openssl verifies at this time too. */
export const NOW = 1_750_000_000;
export const DAY = 86_400;

/** An assert.rejects / throws predicate: PKI_INVALID naming `field` (when given). */
export const pkiInvalid = (field?: string) => (e: unknown) =>
  e instanceof CloisterError && e.code === 'PKI_INVALID' && (field === undefined || e.field === field);

/** The key kinds a leaf may certify, generated with Node. */
export const KEY_TYPES = {
  'P-256': () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  'P-384': () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  'RSA-2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  Ed25519: () => generateKeyPairSync('ed25519'),
} as const;

/** SPKI DER of a Node key pair's public key. */
export const spkiOf = (pair: { publicKey: { export(o: { format: 'der'; type: 'spki' }): Buffer } }): Uint8Array =>
  new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }));

/** The result of `openssl ARGS`, or undefined when openssl is not installed. */
export function openssl(args: string[]): { status: number | null; stdout: string; stderr: string } | undefined {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) return undefined;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** True when openssl can be run; otherwise records a skip note on `t`. */
export function hasOpenssl(t: TestContext): boolean {
  if (openssl(['version']) !== undefined) return true;
  t.diagnostic('openssl is not installed: the openssl cross-check is skipped (Node verification still ran)');
  return false;
}

/** Writes the CA's PEMs and `leaf` to a temporary folder and runs `openssl verify` at {@link NOW} (plus `extra`). */
export function opensslVerify(
  ca: CaBundle,
  leaf: Uint8Array,
  extra: string[] = [],
  at = NOW,
): { status: number | null; stdout: string; stderr: string } {
  const dir = tempDir('pki');
  try {
    const file = (name: string, der: Uint8Array) => {
      const path = join(dir, name);
      writeFileSync(path, pemCert(der));
      return path;
    };
    const args = [
      'verify',
      '-x509_strict',
      '-attime',
      String(at),
      '-CAfile',
      file('root.pem', ca.rootCert),
      '-untrusted',
      file('intermediate.pem', ca.intermediateCert),
      ...extra,
      file('leaf.pem', leaf),
    ];
    const r = openssl(args);
    assert.ok(r, 'openssl disappeared');
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl x509 -text` of a DER certificate. */
export function opensslText(der: Uint8Array): string {
  const r = spawnSync('openssl', ['x509', '-inform', 'DER', '-noout', '-text'], { input: der, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Asserts with Node's X509Certificate that leaf ← intermediate ← root (issuer names and signatures). */
export function assertChain(ca: CaBundle, leaf: Uint8Array): void {
  const [l, i, r] = [leaf, ca.intermediateCert, ca.rootCert].map((der) => new X509Certificate(der)) as [
    X509Certificate,
    X509Certificate,
    X509Certificate,
  ];
  assert.ok(l.checkIssued(i), 'leaf issued by the intermediate');
  assert.ok(l.verify(i.publicKey), 'leaf signature');
  assert.ok(i.checkIssued(r), 'intermediate issued by the root');
  assert.ok(i.verify(r.publicKey), 'intermediate signature');
  assert.ok(r.checkIssued(r) && r.verify(r.publicKey), 'root self-signed');
  assert.ok(!l.checkIssued(r), 'leaf not issued by the root directly');
}

/** A certificate parsed by @peculiar/x509, for extensions Node does not expose. */
export const parsed = (der: Uint8Array): px.X509Certificate => new px.X509Certificate(der);

/** Unix seconds of a Date. */
export const seconds = (d: Date): number => d.getTime() / 1000;

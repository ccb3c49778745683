import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { CloisterError, type ErrorCode } from '../../src/lib/errors.js';
import { parseManifest, renderParameters, referencedSecrets, type SecretValue } from '../../src/manifest/index.js';
import { ADMIN_CERT } from './fixtures.js';
import { example, marbleRunExample, type Json } from './helpers.js';
import { pemCertificates } from '../../src/attest/lib/x509.js';

/**
 * Property tests (STYLE rule 10): arbitrary bytes, arbitrary JSON, random edits of a valid
 * manifest and random templates only ever give a manifest or cloister's typed error.
 */

function only<T>(fn: () => T, code: ErrorCode): T | CloisterError {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof CloisterError))
      throw new assert.AssertionError({ message: `not a CloisterError: ${String(e)}`, actual: e });
    assert.equal(e.code, code, e.message);
    assert.ok(e.path !== undefined && e.message.startsWith(`${e.path}: `), e.message);
    return e;
  }
}

test('arbitrary bytes only ever give MANIFEST_INVALID', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (b) => void only(() => parseManifest(b), 'MANIFEST_INVALID')),
    { numRuns: 500 },
  );
});

test('arbitrary JSON only ever gives MANIFEST_INVALID', () => {
  fc.assert(
    fc.property(fc.json({ depthSize: 'medium' }), (text) => void only(() => parseManifest(text), 'MANIFEST_INVALID')),
    { numRuns: 500 },
  );
});

/** Every path of a JSON value (objects and arrays), the root excluded. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== 'object' || v === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((e, i) => [i, e]) : Object.entries(v);
  return entries.flatMap(([k, e]) => [[...prefix, k], ...paths(e, [...prefix, k])]);
}

function replaced(doc: Json, path: (string | number)[], value: unknown): Json {
  const copy = structuredClone(doc);
  let at = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path[path.length - 1] as string | number] = value;
  return copy;
}

test('any value anywhere in a valid manifest gives a manifest or MANIFEST_INVALID', () => {
  for (const doc of [marbleRunExample(), example()]) {
    const all = paths(doc);
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.jsonValue({ maxDepth: 3 }), (path, value) => {
        const text = JSON.stringify(replaced(doc, path, value));
        const r = only(() => parseManifest(text), 'MANIFEST_INVALID');
        if (!(r instanceof CloisterError)) assert.equal(r.fingerprint, createHash('sha256').update(text).digest('hex'));
      }),
      { numRuns: 400 },
    );
  }
});

test('random templates parse or fail with MANIFEST_INVALID, and render or fail with MANIFEST_TEMPLATE', () => {
  const tokens = fc.constantFrom(
    '{{',
    '}}',
    ' ',
    '.',
    'Secrets',
    'MarbleRun',
    'apiKey',
    'backendCert',
    'Cert',
    'Private',
    'Public',
    'RootCA',
    'MarbleCert',
    'pem',
    'hex',
    'raw',
    'base64',
    'string',
    'x',
    '\0',
    '\n',
    '|',
  );
  const template = fc.array(tokens, { maxLength: 12 }).map((t) => t.join(''));
  const der = pemCertificates(ADMIN_CERT)[0] as Uint8Array;
  const secrets: Record<string, SecretValue> = {
    apiKey: { type: 'symmetric-key', key: new Uint8Array(32) },
    backendCert: { type: 'cert-ecdsa', cert: der, private: new Uint8Array(8) },
  };
  fc.assert(
    fc.property(template, fc.boolean(), (data, inFile) => {
      const doc = example();
      const params = ((doc['Marbles'] as Json)['backend'] as Json)['Parameters'] as Json;
      (params[inFile ? 'Files' : 'Env'] as Json)['X'] = data;
      const parsed = only(() => parseManifest(JSON.stringify(doc)), 'MANIFEST_INVALID');
      if (parsed instanceof CloisterError) return;
      only(() => referencedSecrets(parsed.manifest, 'backend'), 'MANIFEST_TEMPLATE');
      const r = only(
        () =>
          renderParameters(parsed.manifest, 'backend', {
            secrets,
            rootCa: der,
            marbleCert: der,
            marbleKey: new Uint8Array(4),
          }),
        'MANIFEST_TEMPLATE',
      );
      assert.ok(!(r instanceof CloisterError), 'a manifest that passed the dry run renders with all its secrets set');
    }),
    { numRuns: 800 },
  );
});

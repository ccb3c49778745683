import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseManifest } from '../../src/manifest/index.js';
import { ROOT, example, marbleRunExample, node, parse, throwsAt } from './helpers.js';

/** Plain JSON of a value (null-prototype records compare like ordinary objects). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test("MarbleRun's documented example manifest parses", () => {
  const { manifest } = parse(marbleRunExample());
  assert.deepEqual(Object.keys(manifest.Marbles), ['backendFirst', 'frontend']);
  assert.deepEqual(plain(manifest.Packages['frontend']), {
    Debug: true,
    TEE: 'sgx',
    SignerID: '43361affedeb75affee9baec7e054a5e14883213e5a121b67d74a0e12e9d2b7a',
    ProductID: 43,
    SecurityVersion: 3,
  });
  assert.deepEqual(manifest.Roles['updateManifest'], {
    ResourceType: 'Manifest',
    ResourceNames: [],
    Actions: ['UpdateManifest'],
  });
  assert.deepEqual(plain(manifest.TLS['frontendTLS1']?.Incoming), [
    { Port: '8443', DisableClientAuth: false },
    { Port: '8080', DisableClientAuth: true, Cert: 'rsaCert' },
  ]);
  assert.deepEqual(manifest.Config, {
    SealMode: 'ProductKey',
    FeatureGates: [],
    RotateRootSecret: false,
    UpdateThreshold: 1,
  });
});

test('examples/manifest.json parses', () => {
  const { manifest } = parseManifest(readFileSync(new URL('examples/manifest.json', ROOT)));
  assert.deepEqual(Object.keys(manifest.Marbles).sort(), ['backend', 'frontend']);
  assert.equal(manifest.Packages['backend']?.TEE, 'sim');
  assert.deepEqual(Object.keys(manifest.Secrets), ['apiKey']);
});

test('defaults are filled in', () => {
  const m = parse({
    Packages: { p: { Debug: true } },
    Marbles: { a: { Package: 'p' } },
    Secrets: {
      sym: { Type: 'symmetric-key', Size: 128 },
      rsa: { Type: 'cert-rsa', Size: 2048 },
      ec: { Type: 'cert-ecdsa', Size: 256 },
      ed: { Type: 'cert-ed25519' },
      up: { Type: 'cert-rsa', UserDefined: true },
      plain: { Type: 'plain', UserDefined: true },
    },
  }).manifest;
  assert.deepEqual(plain(m.Packages['p']), { Debug: true, TEE: 'sgx' });
  assert.deepEqual(plain(m.Marbles['a']), {
    Package: 'p',
    MaxActivations: 0,
    Parameters: { Files: {}, Env: {}, Argv: [] },
    TLS: [],
  });
  assert.deepEqual(plain(m.Secrets), {
    sym: { Type: 'symmetric-key', Size: 128, Shared: false, UserDefined: false, ValidFor: 0 },
    rsa: { Type: 'cert-rsa', Size: 2048, Shared: false, UserDefined: false, ValidFor: 365 },
    ec: { Type: 'cert-ecdsa', Size: 256, Shared: false, UserDefined: false, ValidFor: 365 },
    ed: { Type: 'cert-ed25519', Size: 0, Shared: false, UserDefined: false, ValidFor: 365 },
    // MarbleRun has no default sizes; an uploaded secret's Size is not checked.
    up: { Type: 'cert-rsa', Size: 0, Shared: false, UserDefined: true, ValidFor: 0 },
    plain: { Type: 'plain', Size: 0, Shared: false, UserDefined: true, ValidFor: 0 },
  });
  for (const section of ['Users', 'Roles', 'RecoveryKeys', 'TLS'] as const) assert.deepEqual(plain(m[section]), {});
  assert.deepEqual(m.Config, {});
});

test('a plain string value becomes {Data, Encoding: string, NoTemplates: false}; Encoding is case-insensitive', () => {
  const m = marbleRunExample();
  node(m, ['Marbles', 'backendFirst', 'Parameters', 'Env'])['B64'] = { Data: 'dHJ1ZQ==', Encoding: 'Base64' };
  node(m, ['Marbles', 'backendFirst', 'Parameters', 'Env'])['EMPTY'] = { Data: 'x', Encoding: '' };
  const env = parse(m).manifest.Marbles['backendFirst']?.Parameters.Env;
  assert.deepEqual(env?.['IS_FIRST'], { Data: 'true', Encoding: 'string', NoTemplates: false });
  assert.deepEqual(env?.['B64'], { Data: 'dHJ1ZQ==', Encoding: 'base64', NoTemplates: false });
  assert.deepEqual(env?.['EMPTY'], { Data: 'x', Encoding: 'string', NoTemplates: false });
});

test('NoTemplates leaves Data unchecked', () => {
  const m = marbleRunExample();
  node(m, ['Marbles', 'backendFirst', 'Parameters', 'Files'])['/tmp/t.tmpl'] = {
    Data: '{{ .Anything | goes }}',
    NoTemplates: true,
  };
  parse(m);
});

test("role actions and feature gates match case-insensitively and keep MarbleRun's spelling", () => {
  const m = marbleRunExample();
  node(m, ['Roles', 'secretManager'])['Actions'] = ['readsecret', 'WRITESECRET'];
  node(m, ['Config'])['FeatureGates'] = ['signquoteendpoint'];
  const parsed = parse(m).manifest;
  assert.deepEqual(parsed.Roles['secretManager']?.Actions, ['ReadSecret', 'WriteSecret']);
  assert.deepEqual(parsed.Config.FeatureGates, ['SignQuoteEndpoint']);
});

test('a debug package may leave reference values out or combine them (MarbleRun warns)', () => {
  const m = marbleRunExample();
  Object.assign(node(m, ['Packages', 'backend']), { Debug: true, SignerID: 'ab'.repeat(32) });
  parse(m);
});

test('TDX and SNP packages take their reference values', () => {
  const m = marbleRunExample();
  m['Packages'] = {
    backend: { TEE: 'tdx', MRTD: 'AB'.repeat(48), RTMRs: ['01'.repeat(48), '02'.repeat(48)] },
    frontend: { TEE: 'snp', Measurement: 'cd'.repeat(48), HostData: 'ef'.repeat(32) },
  };
  const { Packages } = parse(m).manifest;
  assert.deepEqual(plain(Packages['backend']), {
    Debug: false,
    TEE: 'tdx',
    MRTD: 'AB'.repeat(48),
    RTMRs: ['01'.repeat(48), '02'.repeat(48)],
  });
  assert.deepEqual(plain(Packages['frontend']), {
    Debug: false,
    TEE: 'snp',
    Measurement: 'cd'.repeat(48),
    HostData: 'ef'.repeat(32),
  });
});

test("null and Go zero values in Cert mean absent (MarbleRun's documented Cert template)", () => {
  const m = marbleRunExample();
  node(m, ['Secrets', 'rsaCert'])['Cert'] = {
    Subject: { Country: null, Organization: ['Acme'], CommonName: '', Locality: null },
    DNSNames: null,
    IPAddresses: ['10.0.0.1', '::1'],
  };
  node(m, ['Secrets', 'rsaCert'])['ValidFor'] = 0;
  const spec = parse(m).manifest.Secrets['rsaCert'];
  assert.deepEqual(plain(spec?.Cert), { Subject: { Organization: ['Acme'] }, IPAddresses: ['10.0.0.1', '::1'] });
  assert.equal(spec?.ValidFor, 365);
});

test('names such as __proto__ and constructor are ordinary entries', () => {
  const m = marbleRunExample();
  m['Secrets'] = { ...(m['Secrets'] as object), constructor: { Type: 'symmetric-key', Size: 128 } };
  const text = JSON.stringify(m).replace(
    '"constructor":',
    '"__proto__":{"Type":"plain","UserDefined":true},"constructor":',
  );
  const { manifest } = parseManifest(text);
  assert.equal(manifest.Secrets['constructor']?.Type, 'symmetric-key');
  assert.equal(manifest.Secrets['__proto__']?.Type, 'plain');
  assert.equal('toString' in manifest.Secrets, false);
  assert.equal(Object.getPrototypeOf(manifest.Secrets), null);
});

test('the fingerprint is the SHA-256 of the exact bytes', () => {
  const text = JSON.stringify(marbleRunExample());
  const spaced = JSON.stringify(marbleRunExample(), null, 2);
  const a = parseManifest(text);
  const b = parseManifest(new TextEncoder().encode(spaced));
  assert.equal(a.fingerprint, createHash('sha256').update(text).digest('hex'));
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  assert.notEqual(a.fingerprint, b.fingerprint, 'whitespace changes the fingerprint');
  assert.deepEqual(plain(a.manifest), plain(b.manifest));
  assert.deepEqual(a.raw, new TextEncoder().encode(text));
  assert.equal(
    parseManifest(new TextEncoder().encode(text)).fingerprint,
    a.fingerprint,
    'a string is taken as its UTF-8 bytes',
  );
});

test('raw is a copy of the input', () => {
  const bytes = new TextEncoder().encode(JSON.stringify(marbleRunExample()));
  const parsed = parseManifest(bytes);
  bytes[0] = 0x20;
  assert.equal(parsed.raw[0], 0x7b);
});

test("errors say the path in the message (the brief's example)", () => {
  const m = example();
  node(m, ['Marbles', 'backend', 'Parameters', 'Env'])['API_KEY'] = '{{ hex .Secrets.apiKeyTypo }}';
  const e = throwsAt(() => parse(m), 'MANIFEST_INVALID', 'Marbles.backend.Parameters.Env.API_KEY');
  assert.equal(e.message, 'Marbles.backend.Parameters.Env.API_KEY: unknown secret "apiKeyTypo"');
});

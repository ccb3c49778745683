import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { test } from 'node:test';
import { pemCertificates } from '../../src/attest/lib/x509.js';
import {
  referencedSecrets,
  renderParameters,
  type Manifest,
  type RenderContext,
  type SecretValue,
} from '../../src/manifest/index.js';
import { ADMIN_CERT, ALICE_CERT, BOB_CERT } from './fixtures.js';
import { example, parse, throwsAt, type Json } from './helpers.js';

/**
 * Rendering (MarbleRun "Templates", "Injecting custom secrets"): every function with every
 * accessor, decoding, and the errors a coordinator meets before a user sets a secret.
 */

const der = (pem: string) => pemCertificates(pem)[0] as Uint8Array;
const spki = (pem: string) =>
  new Uint8Array(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }));
const bytes = (...b: number[]) => new Uint8Array(b);

const SYM = bytes(0x00, 0x01, 0xfe, 0xff);
const PLAIN = new TextEncoder().encode('hunter2 ✓');
const CERT_PRIVATE = bytes(0x30, 0x03, 0x02, 0x01, 0x00);
const MARBLE_KEY = bytes(0x30, 0x03, 0x02, 0x01, 0x01);

const SECRETS: Record<string, SecretValue> = {
  sym: { type: 'symmetric-key', key: SYM },
  word: { type: 'plain', key: PLAIN },
  tls: { type: 'cert-rsa', cert: der(ALICE_CERT), private: CERT_PRIVATE, public: spki(ALICE_CERT) },
  // An uploaded certificate without its public key: derived from the certificate.
  upload: { type: 'cert-ecdsa', cert: der(ADMIN_CERT), private: CERT_PRIVATE },
};
const CTX: RenderContext = {
  secrets: SECRETS,
  rootCa: der(BOB_CERT),
  marbleCert: der(ADMIN_CERT),
  marbleKey: MARBLE_KEY,
};

/** Each reference and the bytes (and PEM label) it stands for. */
const REFERENCES: Record<string, { bytes: Uint8Array; label: string | undefined; plain?: true }> = {
  '.Secrets.sym': { bytes: SYM, label: undefined },
  '.Secrets.word': { bytes: PLAIN, label: undefined, plain: true },
  '.Secrets.tls': { bytes: spki(ALICE_CERT), label: 'PUBLIC KEY' },
  '.Secrets.tls.Cert': { bytes: der(ALICE_CERT), label: 'CERTIFICATE' },
  '.Secrets.tls.Public': { bytes: spki(ALICE_CERT), label: 'PUBLIC KEY' },
  '.Secrets.tls.Private': { bytes: CERT_PRIVATE, label: 'PRIVATE KEY' },
  '.Secrets.upload.Public': { bytes: spki(ADMIN_CERT), label: 'PUBLIC KEY' },
  '.MarbleRun.RootCA.Cert': { bytes: der(BOB_CERT), label: 'CERTIFICATE' },
  '.MarbleRun.MarbleCert.Cert': { bytes: der(ADMIN_CERT), label: 'CERTIFICATE' },
  '.MarbleRun.MarbleCert.Public': { bytes: spki(ADMIN_CERT), label: 'PUBLIC KEY' },
  '.MarbleRun.MarbleCert.Private': { bytes: MARBLE_KEY, label: 'PRIVATE KEY' },
};

/** Each function, where it may be used, and what it should produce (undefined: refused). */
const FUNCS: Record<
  string,
  { target: 'Files' | 'Env'; expect: (r: (typeof REFERENCES)[string]) => Uint8Array | undefined }
> = {
  pem: { target: 'Env', expect: (r) => (r.label ? new TextEncoder().encode(pemOf(r.label, r.bytes)) : undefined) },
  hex: { target: 'Env', expect: (r) => new TextEncoder().encode(Buffer.from(r.bytes).toString('hex')) },
  base64: { target: 'Files', expect: (r) => new TextEncoder().encode(Buffer.from(r.bytes).toString('base64')) },
  raw: { target: 'Files', expect: (r) => r.bytes },
  string: { target: 'Env', expect: (r) => (r.plain ? r.bytes : undefined) },
};

function pemOf(label: string, b: Uint8Array): string {
  const body = Buffer.from(b).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN ${label}-----\n${b.length ? body : ''}-----END ${label}-----\n`;
}

function manifest(files: Record<string, unknown>, env: Record<string, unknown>, argv: string[] = []): Json {
  return {
    Packages: { p: { UniqueID: 'ab'.repeat(32) } },
    Marbles: { m: { Package: 'p', Parameters: { Files: files, Env: env, Argv: argv } } },
    Secrets: {
      sym: { Type: 'symmetric-key', Size: 32 },
      word: { Type: 'plain', UserDefined: true },
      tls: { Type: 'cert-rsa', Shared: true },
      upload: { Type: 'cert-ecdsa', UserDefined: true },
    },
  };
}

for (const [func, { target, expect }] of Object.entries(FUNCS)) {
  for (const [ref, value] of Object.entries(REFERENCES)) {
    const want = expect(value);
    test(`{{ ${func} ${ref} }} ${want ? 'renders' : 'is refused'}`, () => {
      const template = `<{{ ${func} ${ref} }}>`;
      const doc = target === 'Files' ? manifest({ out: template }, {}) : manifest({}, { OUT: template });
      if (!want) {
        throwsAt(
          () => parse(doc),
          'MANIFEST_INVALID',
          target === 'Files' ? 'Marbles.m.Parameters.Files.out' : 'Marbles.m.Parameters.Env.OUT',
        );
        return;
      }
      const r = renderParameters(parse(doc).manifest, 'm', CTX);
      const got = target === 'Files' ? r.files['out'] : new TextEncoder().encode(r.env['OUT']);
      assert.deepEqual(got, new Uint8Array(Buffer.concat([Buffer.from('<'), want, Buffer.from('>')])));
    });
  }
}

test('pem output is what PEM readers read back', () => {
  const r = renderParameters(
    parse(manifest({}, { C: '{{ pem .Secrets.tls.Cert }}', P: '{{ pem .MarbleRun.MarbleCert.Public }}' })).manifest,
    'm',
    CTX,
  );
  assert.equal(new X509Certificate(r.env['C'] ?? '').subject, 'CN=alice');
  assert.deepEqual(
    new Uint8Array(createPublicKey(r.env['P'] ?? '').export({ type: 'spki', format: 'der' })),
    spki(ADMIN_CERT),
  );
});

test('whitespace inside {{ }} is free; text around actions stays; one value holds several actions', () => {
  const r = renderParameters(
    parse(manifest({ f: 'a{{hex .Secrets.sym}}b{{\n\traw   .Secrets.sym \n}}c' }, {})).manifest,
    'm',
    CTX,
  );
  assert.deepEqual(r.files['f'], new Uint8Array(Buffer.concat([Buffer.from('a0001feffb'), SYM, Buffer.from('c')])));
});

test('base64 and hex Data are decoded, then templated; binary text around actions is kept', () => {
  const data = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('{{ hex .Secrets.sym }}'), Buffer.from([0x80])]);
  const doc = manifest(
    { b: { Data: data.toString('base64'), Encoding: 'base64' }, h: { Data: data.toString('hex'), Encoding: 'hex' } },
    {},
  );
  const r = renderParameters(parse(doc).manifest, 'm', CTX);
  const want = new Uint8Array(Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('0001feff'), Buffer.from([0x80])]));
  assert.deepEqual(r.files['b'], want);
  assert.deepEqual(r.files['h'], want);
});

test('NoTemplates leaves Data untouched (but decoded)', () => {
  const doc = manifest(
    { t: { Data: Buffer.from('{{ raw .Secrets.sym }}').toString('base64'), Encoding: 'base64', NoTemplates: true } },
    { T: { Data: '{{ hex .Secrets.sym }}', NoTemplates: true } },
  );
  const r = renderParameters(parse(doc).manifest, 'm', CTX);
  assert.deepEqual(r.files['t'], new TextEncoder().encode('{{ raw .Secrets.sym }}'));
  assert.equal(r.env['T'], '{{ hex .Secrets.sym }}');
});

test('Argv is passed as written, templates and all (MarbleRun: no templates in Argv)', () => {
  const r = renderParameters(parse(manifest({}, {}, ['./app', '{{ hex .Secrets.sym }}'])).manifest, 'm', CTX);
  assert.deepEqual(r.argv, ['./app', '{{ hex .Secrets.sym }}']);
});

test('examples/manifest.json renders for both services', () => {
  const { manifest: m } = parse(example());
  const secrets: Record<string, SecretValue> = { apiKey: { type: 'symmetric-key', key: new Uint8Array(32).fill(7) } };
  const backend = renderParameters(m, 'backend', { ...CTX, secrets });
  assert.deepEqual(backend.files['backend-data/api-key'], new TextEncoder().encode('07'.repeat(32)));
  assert.equal(backend.env['API_KEY_FILE'], 'backend-data/api-key');
  const frontend = renderParameters(m, 'frontend', { ...CTX, secrets });
  assert.equal(frontend.env['API_KEY'], '07'.repeat(32));
  assert.deepEqual(referencedSecrets(m, 'backend'), ['apiKey']);
  assert.deepEqual(referencedSecrets(m, 'frontend'), ['apiKey']);
});

test("an empty marble key renders (the coordinator's dry run has no workload key)", () => {
  const r = renderParameters(parse(manifest({}, { K: '{{ pem .MarbleRun.MarbleCert.Private }}' })).manifest, 'm', {
    ...CTX,
    marbleKey: new Uint8Array(),
  });
  assert.equal(r.env['K'], '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n');
});

test('referencedSecrets: sorted, without duplicates, NoTemplates values or .MarbleRun values', () => {
  const doc = manifest(
    {
      a: '{{ raw .Secrets.tls.Private }}{{ raw .Secrets.sym }}',
      b: { Data: '{{ raw .Secrets.upload.Cert }}', NoTemplates: true },
    },
    { C: '{{ hex .Secrets.sym }}{{ pem .MarbleRun.RootCA.Cert }}' },
  );
  assert.deepEqual(referencedSecrets(parse(doc).manifest, 'm'), ['sym', 'tls']);
});

// Rendering errors: MANIFEST_TEMPLATE with the value's path.
const USES_WORD = manifest({}, { W: '{{ string .Secrets.word }}' });
const renderRefused = (doc: Json, secrets: Record<string, SecretValue>, path: string, marble = 'm') =>
  throwsAt(() => renderParameters(parse(doc).manifest, marble, { ...CTX, secrets }), 'MANIFEST_TEMPLATE', path);

const RENDER_RULES: [name: string, doc: Json, secrets: Record<string, SecretValue>, path: string, marble?: string][] = [
  ['a user-defined secret not yet set', USES_WORD, {}, 'Marbles.m.Parameters.Env.W'],
  [
    'a value of another type than declared',
    USES_WORD,
    { word: { type: 'symmetric-key', key: SYM } },
    'Marbles.m.Parameters.Env.W',
  ],
  [
    'a secret without the part a template needs',
    manifest({ k: '{{ raw .Secrets.upload.Private }}' }, {}),
    { upload: { type: 'cert-ecdsa', cert: der(ADMIN_CERT) } },
    'Marbles.m.Parameters.Files.k',
  ],
  [
    'a public key derived from bytes that are no certificate',
    manifest({ k: '{{ raw .Secrets.upload.Public }}' }, {}),
    { upload: { type: 'cert-ecdsa', cert: bytes(1, 2, 3) } },
    'Marbles.m.Parameters.Files.k',
  ],
  [
    'a plain secret with a NUL byte in an environment variable',
    USES_WORD,
    { word: { type: 'plain', key: bytes(0x61, 0x00) } },
    'Marbles.m.Parameters.Env.W',
  ],
  [
    'a plain secret that is not UTF-8 in an environment variable',
    USES_WORD,
    { word: { type: 'plain', key: bytes(0xc3) } },
    'Marbles.m.Parameters.Env.W',
  ],
  ['an unknown Marble', USES_WORD, {}, 'Marbles.nope', 'nope'],
];

for (const [name, doc, secrets, path, marble] of RENDER_RULES) {
  test(`render refuses: ${name}`, () => void renderRefused(doc, secrets, path, marble));
}

test('a secret not set is named as such', () =>
  assert.match(
    renderRefused(USES_WORD, {}, 'Marbles.m.Parameters.Env.W').message,
    /secret "word" is not set \(it is user-defined/,
  ));

test('render refuses: a template an unvalidated manifest got wrong', () => {
  const m = parse(USES_WORD).manifest;
  const broken: Manifest = {
    ...m,
    Marbles: {
      m: {
        Package: 'p',
        MaxActivations: 0,
        TLS: [],
        Parameters: {
          Files: {},
          Env: { X: { Data: '{{ hex .Secrets.gone }}', Encoding: 'string', NoTemplates: false } },
          Argv: [],
        },
      },
    },
  };
  throwsAt(() => renderParameters(broken, 'm', CTX), 'MANIFEST_TEMPLATE', 'Marbles.m.Parameters.Env.X');
  throwsAt(
    () =>
      referencedSecrets(
        {
          ...broken,
          Marbles: {
            m: {
              ...broken.Marbles['m']!,
              Parameters: {
                Files: {},
                Env: { X: { Data: '{{ hex', Encoding: 'string', NoTemplates: false } },
                Argv: [],
              },
            },
          },
        },
        'm',
      ),
    'MANIFEST_TEMPLATE',
    'Marbles.m.Parameters.Env.X',
  );
});

test('.Previous.Secrets renders the secret as before the last update, and the current one when it has none', () => {
  const before = bytes(0x0a, 0x0b);
  const doc = manifest(
    {},
    { OLD: '{{ hex .Previous.Secrets.sym }}', NEW: '{{ hex .Secrets.sym }}', W: '{{ string .Previous.Secrets.word }}' },
  );
  const r = renderParameters(parse(doc).manifest, 'm', {
    ...CTX,
    previousSecrets: { sym: { type: 'symmetric-key', key: before } },
  });
  assert.deepEqual([r.env['OLD'], r.env['NEW'], r.env['W']], ['0a0b', '0001feff', 'hunter2 ✓']);
  assert.deepEqual(referencedSecrets(parse(doc).manifest, 'm'), ['sym', 'word']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderParameters, type RenderContext } from '../../src/manifest/index.js';
import { marbleRunExample, node, parse, throwsAt, type Json } from './helpers.js';

/**
 * MarbleRun reads a manifest with Go's encoding/json: null and Go's zero values mean "not set",
 * field names match case-insensitively, unknown fields are ignored. Each class the issue names,
 * in the places MarbleRun's manifests (often written by json.Marshal) have them.
 */

const NULLS: [name: string, change: (m: Json) => void][] = [
  [
    'Users, Roles, TLS, RecoveryKeys, Infrastructures, Config null',
    (m) => {
      Object.assign(m, {
        Users: null,
        Roles: null,
        TLS: null,
        RecoveryKeys: null,
        Infrastructures: null,
        Config: null,
      });
      for (const marble of Object.values(node(m, ['Marbles']))) (marble as Json)['TLS'] = null;
    },
  ],
  [
    'Secrets null (no template uses one)',
    (m) => {
      Object.assign(m, { Secrets: null, Roles: null, Users: null, Config: null, TLS: null });
      m['Marbles'] = { backendFirst: { Package: 'backend' } };
    },
  ],
  [
    'Env, Files, Argv null',
    (m) => Object.assign(node(m, ['Marbles', 'backendFirst', 'Parameters']), { Env: null, Files: null, Argv: null }),
  ],
  [
    'Parameters and a Marble TLS list null',
    (m) => Object.assign(node(m, ['Marbles', 'frontend']), { Parameters: null, TLS: null }),
  ],
  [
    'FeatureGates, AcceptedTCBStatuses, AcceptedAdvisories null',
    (m) => {
      node(m, ['Config'])['FeatureGates'] = null;
      Object.assign(node(m, ['Packages', 'backend']), { AcceptedTCBStatuses: null, AcceptedAdvisories: null });
    },
  ],
  [
    'ResourceNames and Actions null',
    (m) => Object.assign(node(m, ['Roles', 'updateManifest']), { ResourceNames: null }),
  ],
  [
    '"" UniqueID beside a SignerID set, null ProductID in debug',
    (m) => Object.assign(node(m, ['Packages', 'frontend']), { UniqueID: '', ProductID: null }),
  ],
  [
    '"" SignerID, null ProductID and SecurityVersion beside a UniqueID',
    (m) => Object.assign(node(m, ['Packages', 'backend']), { SignerID: '', ProductID: null, SecurityVersion: null }),
  ],
  [
    'ValidFor 0 and Size 0 where they mean the default or nothing',
    (m) => {
      node(m, ['Secrets', 'rsaCert'])['ValidFor'] = 0;
      node(m, ['Secrets', 'genericSecret'])['Size'] = 0;
    },
  ],
  ['a null certificate template', (m) => (node(m, ['Secrets', 'rsaCert'])['Cert'] = null)],
  [
    'present but empty Private and Public',
    (m) => Object.assign(node(m, ['Secrets', 'rsaCert']), { Private: null, Public: '' }),
  ],
  [
    'a Cert of zero values as json.Marshal writes x509.Certificate',
    (m) =>
      (node(m, ['Secrets', 'rsaCert'])['Cert'] = {
        Raw: null,
        Version: 0,
        SerialNumber: null,
        Subject: { CommonName: 'x', Names: null, ExtraNames: null },
        NotBefore: '0001-01-01T00:00:00Z',
        NotAfter: '0001-01-01T00:00:00Z',
        KeyUsage: 0,
        ExtKeyUsage: null,
        IsCA: false,
        MaxPathLen: 0,
        MaxPathLenZero: false,
        DNSNames: null,
        IPAddresses: null,
        URIs: null,
        PolicyIdentifiers: null,
      }),
  ],
  [
    'a Cert of a key that is only zero values',
    (m) => (node(m, ['Secrets', 'secretAESKey'])['Cert'] = { Raw: null, Subject: {} }),
  ],
  [
    'TLS entries with "" Cert and Addr, null lists',
    (m) =>
      (node(m, ['TLS'])['t'] = {
        Incoming: [{ Port: '1', Cert: '', Addr: '', DisableClientAuth: false }],
        Outgoing: null,
      }),
  ],
  [
    'a value object with null NoTemplates and "" Encoding',
    (m) =>
      (node(m, ['Marbles', 'backendFirst', 'Parameters', 'Env'])['X'] = { Data: 'x', Encoding: '', NoTemplates: null }),
  ],
];

for (const [name, change] of NULLS) {
  test(`Go zero values are "not set": ${name}`, () => {
    const m = marbleRunExample();
    change(m);
    const { warnings } = parse(m);
    // Zero values are not reported: only what is set and ignored is.
    assert.ok(!warnings.some((w) => /Private|Public|Cert\.|Infrastructures/.test(w)), JSON.stringify(warnings));
  });
}

test('a null section is empty: a null Packages or Marbles is what MarbleRun refuses as "no packages"/"no marbles"', () => {
  const m = marbleRunExample();
  m['Packages'] = null;
  throwsAt(() => parse(m), 'MANIFEST_INVALID', 'Packages');
  const n = marbleRunExample();
  n['Marbles'] = null;
  throwsAt(() => parse(n), 'MANIFEST_INVALID', 'Marbles');
});

test('null where Go keeps a zero value reads as it: a null Debug is false, a null MaxActivations 0', () => {
  const m = marbleRunExample();
  node(m, ['Packages', 'backend'])['Debug'] = null;
  node(m, ['Marbles', 'backendFirst'])['MaxActivations'] = null;
  const { manifest } = parse(m);
  assert.equal(manifest.Packages['backend']?.Debug, false);
  assert.equal(manifest.Marbles['backendFirst']?.MaxActivations, 0);
});

test('a ProductID of 0 is set (a pointer in Go), unlike null', () => {
  const m = marbleRunExample();
  Object.assign(node(m, ['Packages', 'frontend']), { Debug: false, ProductID: 0 });
  assert.equal(parse(m).manifest.Packages['frontend']?.ProductID, 0);
  node(m, ['Packages', 'frontend'])['ProductID'] = null;
  throwsAt(() => parse(m), 'MANIFEST_INVALID', 'Packages.frontend.ProductID');
});

test('field names match case-insensitively, the exact name preferred, with a warning', () => {
  const m = marbleRunExample();
  const marble = node(m, ['Marbles', 'backendFirst']);
  marble['maxactivations'] = 3;
  delete marble['MaxActivations'];
  const { manifest, warnings } = parse(m);
  assert.equal(manifest.Marbles['backendFirst']?.MaxActivations, 3);
  assert.ok(warnings.some((w) => w.startsWith('Marbles.backendFirst.maxactivations: read as MaxActivations')));
});

test('ExtKeyUsage and DNSNames: null is the default, [] is none (as Go tells nil from empty)', () => {
  const m = marbleRunExample();
  Object.assign(node(m, ['Secrets', 'rsaCert', 'Cert']), {
    DNSNames: [],
    ExtKeyUsage: null,
    IsCA: true,
    MaxPathLen: 0,
    MaxPathLenZero: true,
  });
  const cert = parse(m).manifest.Secrets['rsaCert']?.Cert;
  assert.deepEqual(cert?.DNSNames, []);
  assert.equal(cert?.ExtKeyUsage, undefined);
  assert.equal(cert?.IsCA, true);
  assert.equal(cert?.MaxPathLen, 0);
  Object.assign(node(m, ['Secrets', 'rsaCert', 'Cert']), { MaxPathLen: -1 });
  assert.equal(parse(m).manifest.Secrets['rsaCert']?.Cert?.MaxPathLen, undefined);
});

test('Cert.NotAfter is read as Unix seconds and replaces ValidFor', () => {
  const m = marbleRunExample();
  delete node(m, ['Secrets', 'rsaCert'])['ValidFor'];
  node(m, ['Secrets', 'rsaCert', 'Cert'])['NotAfter'] = '2030-01-02T03:04:05+01:00';
  const spec = parse(m).manifest.Secrets['rsaCert'];
  assert.equal(spec?.Cert?.NotAfter, Date.UTC(2030, 0, 2, 2, 4, 5) / 1000);
  assert.equal(spec?.ValidFor, 0);
});

test('cert-ecdsa takes the four curves MarbleRun does', () => {
  for (const size of [224, 256, 384, 521]) {
    const m = marbleRunExample();
    node(m, ['Secrets'])['ec'] = { Type: 'cert-ecdsa', Size: size };
    assert.equal(parse(m).manifest.Secrets['ec']?.Size, size);
  }
});

/** Templates: the Go text/template forms MarbleRun's manifests use, rendered. */
const KEY = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
const OLD = new Uint8Array([0x01, 0x02]);
function render(env: Record<string, string>, ctx: Partial<RenderContext> = {}): Record<string, string> {
  const m = {
    Packages: { p: { UniqueID: 'ab'.repeat(32) } },
    Marbles: { m: { Package: 'p', Parameters: { Env: env } } },
    Secrets: { k: { Type: 'symmetric-key', Size: 32, Shared: true } },
  };
  return renderParameters(parse(m).manifest, 'm', {
    secrets: { k: { type: 'symmetric-key', key: KEY } },
    rootCa: new Uint8Array(),
    marbleCert: new Uint8Array(),
    marbleKey: new Uint8Array(),
    ...ctx,
  }).env;
}
const plain = (o: object) => ({ ...o });

test('templates: pipelines, trim markers, comments, .Private of a symmetric key', () => {
  assert.deepEqual(
    plain(
      render({
        PIPE: '{{ .Secrets.k | hex }}',
        TRIM: 'a  {{- hex .Secrets.k -}}  b',
        COMMENT: 'x{{/* a comment */}}y',
        PRIVATE: '{{hex .Secrets.k.Private}}',
      }),
    ),
    { PIPE: 'deadbeef', TRIM: 'adeadbeefb', COMMENT: 'xy', PRIVATE: 'deadbeef' },
  );
});

test('.Previous.Secrets: the current secrets until the coordinator records previous ones', () => {
  assert.deepEqual(plain(render({ P: '{{ hex .Previous.Secrets.k }}' })), { P: 'deadbeef' });
  const previous = { k: { type: 'symmetric-key' as const, key: OLD } };
  assert.deepEqual(
    plain(render({ P: '{{ hex .Previous.Secrets.k }}', C: '{{ hex .Secrets.k }}' }, { previousSecrets: previous })),
    {
      P: '0102',
      C: 'deadbeef',
    },
  );
});

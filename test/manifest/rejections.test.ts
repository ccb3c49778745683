import { test } from 'node:test';
import { parseManifest } from '../../src/manifest/index.js';
import { ADMIN_CERT, ALICE_CERT, ED25519_PUBLIC_KEY } from './fixtures.js';
import { marbleRunExample, node, parse, throwsAt, type Json } from './helpers.js';

/**
 * One test per rejection rule of the validator: each changes MarbleRun's documented example in
 * one place and expects MANIFEST_INVALID naming that place's JSON path.
 */

type Rule = [name: string, change: (m: Json) => void, path: string];

const pkg = (m: Json, name: string) => node(m, ['Packages', name]);
const secret = (m: Json, name: string) => node(m, ['Secrets', name]);
const env = (m: Json) => node(m, ['Marbles', 'backendFirst', 'Parameters', 'Env']);
const files = (m: Json) => node(m, ['Marbles', 'backendFirst', 'Parameters', 'Files']);
const role = (m: Json, name: string) => node(m, ['Roles', name]);
const incoming = (m: Json) => node(m, ['TLS', 'frontendTLS1', 'Incoming', 1]);
const ENV = 'Marbles.backendFirst.Parameters.Env';
const FILES = 'Marbles.backendFirst.Parameters.Files';

const VOLUME = { Mode: 'read-only', Services: ['backendFirst'], Sealed: 'app.sealed', Path: 'app' };

const RULES: Rule[] = [
  // The document.
  ['a manifest must define Packages', (m) => delete m['Packages'], 'Packages'],
  ['a manifest must define at least one package', (m) => (m['Packages'] = {}), 'Packages'],
  ['a manifest must define Marbles', (m) => delete m['Marbles'], 'Marbles'],
  ['unknown top-level fields are errors', (m) => (m['Infrastructures'] = {}), 'Infrastructures'],
  ['sections are objects', (m) => (m['Secrets'] = []), 'Secrets'],
  ['names are not empty', (m) => (node(m, ['Secrets'])[''] = { Type: 'plain', UserDefined: true }), 'Secrets[""]'],

  // Packages.
  ['UniqueID is 32 bytes of hex', (m) => (pkg(m, 'backend')['UniqueID'] = 'abcd'), 'Packages.backend.UniqueID'],
  ['SignerID is hex', (m) => (pkg(m, 'frontend')['SignerID'] = 'zz'.repeat(32)), 'Packages.frontend.SignerID'],
  ['ProductID is a non-negative integer', (m) => (pkg(m, 'frontend')['ProductID'] = -1), 'Packages.frontend.ProductID'],
  [
    'SecurityVersion is a 16-bit integer',
    (m) => (pkg(m, 'frontend')['SecurityVersion'] = 65536),
    'Packages.frontend.SecurityVersion',
  ],
  ['Debug is a boolean', (m) => (pkg(m, 'frontend')['Debug'] = 'yes'), 'Packages.frontend.Debug'],
  ['TEE is known', (m) => (pkg(m, 'backend')['TEE'] = 'sev'), 'Packages.backend.TEE'],
  [
    'TDX reference values do not apply to SGX',
    (m) => (pkg(m, 'backend')['MRTD'] = 'ab'.repeat(48)),
    'Packages.backend.MRTD',
  ],
  [
    'SGX reference values do not apply to TDX',
    (m) => Object.assign(pkg(m, 'backend'), { TEE: 'tdx', MRTD: 'ab'.repeat(48) }),
    'Packages.backend.UniqueID',
  ],
  [
    'MRTD is 48 bytes of hex',
    (m) => (m['Packages'] = { backend: { TEE: 'tdx', MRTD: 'ab'.repeat(32) }, frontend: pkg(m, 'frontend') }),
    'Packages.backend.MRTD',
  ],
  [
    'RTMRs are 48 bytes of hex each',
    (m) =>
      (m['Packages'] = {
        backend: { TEE: 'tdx', MRTD: 'ab'.repeat(48), RTMRs: ['ab'.repeat(48), 'ab'] },
        frontend: pkg(m, 'frontend'),
      }),
    'Packages.backend.RTMRs[1]',
  ],
  [
    'there are at most four RTMRs',
    (m) =>
      (m['Packages'] = {
        backend: { TEE: 'tdx', MRTD: 'ab'.repeat(48), RTMRs: Array(5).fill('ab'.repeat(48)) },
        frontend: pkg(m, 'frontend'),
      }),
    'Packages.backend.RTMRs',
  ],
  [
    'Measurement is 48 bytes of hex',
    (m) => (m['Packages'] = { backend: { TEE: 'snp', Measurement: 'ab'.repeat(32) }, frontend: pkg(m, 'frontend') }),
    'Packages.backend.Measurement',
  ],
  [
    'HostData is 32 bytes of hex',
    (m) =>
      (m['Packages'] = {
        backend: { TEE: 'snp', Measurement: 'ab'.repeat(48), HostData: 'ab'.repeat(48) },
        frontend: pkg(m, 'frontend'),
      }),
    'Packages.backend.HostData',
  ],
  [
    'AcceptedTCBStatuses are known TCB statuses',
    (m) => (pkg(m, 'backend')['AcceptedTCBStatuses'] = ['UpToDate', 'Fine']),
    'Packages.backend.AcceptedTCBStatuses[1]',
  ],
  [
    'AcceptedAdvisories are strings',
    (m) => (pkg(m, 'backend')['AcceptedAdvisories'] = [42]),
    'Packages.backend.AcceptedAdvisories[0]',
  ],
  ['unknown package fields are errors', (m) => (pkg(m, 'backend')['MRENCLAVE'] = 'ab'), 'Packages.backend.MRENCLAVE'],
  [
    'a non-debug package pins its workload',
    (m) => (m['Packages'] = { backend: {}, frontend: pkg(m, 'frontend') }),
    'Packages.backend.UniqueID',
  ],
  [
    'UniqueID and SignerID exclude each other unless Debug',
    (m) => (pkg(m, 'backend')['SignerID'] = 'ab'.repeat(32)),
    'Packages.backend.SignerID',
  ],
  [
    'SignerID needs ProductID unless Debug',
    (m) => Object.assign(pkg(m, 'frontend'), { Debug: false, ProductID: undefined }),
    'Packages.frontend.ProductID',
  ],
  [
    'a non-debug TDX package gives MRTD',
    (m) => (m['Packages'] = { backend: { TEE: 'tdx', RTMRs: [] }, frontend: pkg(m, 'frontend') }),
    'Packages.backend.MRTD',
  ],
  [
    'a non-debug SNP package gives Measurement',
    (m) => (m['Packages'] = { backend: { TEE: 'snp', HostData: 'ab'.repeat(32) }, frontend: pkg(m, 'frontend') }),
    'Packages.backend.Measurement',
  ],

  // Secrets.
  ['Type is required', (m) => delete secret(m, 'secretAESKey')['Type'], 'Secrets.secretAESKey.Type'],
  ['Type is known', (m) => (secret(m, 'secretAESKey')['Type'] = 'aes'), 'Secrets.secretAESKey.Type'],
  ['a symmetric key has a Size', (m) => delete secret(m, 'secretAESKey')['Size'], 'Secrets.secretAESKey.Size'],
  [
    'a symmetric key Size is a multiple of 8',
    (m) => (secret(m, 'secretAESKey')['Size'] = 100),
    'Secrets.secretAESKey.Size',
  ],
  [
    'a symmetric key is at most 512 bits',
    (m) => (secret(m, 'secretAESKey')['Size'] = 1024),
    'Secrets.secretAESKey.Size',
  ],
  [
    'a user-defined symmetric key has a Size',
    (m) => delete secret(m, 'secretKeyUnset')['Size'],
    'Secrets.secretKeyUnset.Size',
  ],
  ['an RSA key has at least 2048 bits', (m) => (secret(m, 'rsaCert')['Size'] = 1024), 'Secrets.rsaCert.Size'],
  [
    'an ECDSA key is P-256 or P-384',
    (m) => (m['Secrets'] = { ...node(m, ['Secrets']), ec: { Type: 'cert-ecdsa', Size: 521 } }),
    'Secrets.ec.Size',
  ],
  [
    'an Ed25519 key has no Size',
    (m) => (m['Secrets'] = { ...node(m, ['Secrets']), ed: { Type: 'cert-ed25519', Size: 256 } }),
    'Secrets.ed.Size',
  ],
  ['a plain secret has no Size', (m) => (secret(m, 'genericSecret')['Size'] = 8), 'Secrets.genericSecret.Size'],
  [
    'a plain secret is user-defined',
    (m) => (secret(m, 'genericSecret')['UserDefined'] = false),
    'Secrets.genericSecret.UserDefined',
  ],
  ['Shared is a boolean', (m) => (secret(m, 'secretAESKey')['Shared'] = 1), 'Secrets.secretAESKey.Shared'],
  ['Cert is only for certificates', (m) => (secret(m, 'secretAESKey')['Cert'] = {}), 'Secrets.secretAESKey.Cert'],
  [
    'ValidFor is only for certificates',
    (m) => (secret(m, 'genericSecret')['ValidFor'] = 7),
    'Secrets.genericSecret.ValidFor',
  ],
  [
    'a user-defined certificate takes no Cert',
    (m) => Object.assign(secret(m, 'rsaCert'), { UserDefined: true }),
    'Secrets.rsaCert.Cert',
  ],
  ['ValidFor is at most 100 years', (m) => (secret(m, 'rsaCert')['ValidFor'] = 36501), 'Secrets.rsaCert.ValidFor'],
  [
    'unsupported Cert fields are errors',
    (m) => (node(m, ['Secrets', 'rsaCert', 'Cert'])['KeyUsage'] = 5),
    'Secrets.rsaCert.Cert.KeyUsage',
  ],
  [
    'Subject.Country is a two-letter code',
    (m) => (node(m, ['Secrets', 'rsaCert', 'Cert', 'Subject'])['Country'] = ['DE', 'Germany']),
    'Secrets.rsaCert.Cert.Subject.Country[1]',
  ],
  [
    'Subject list entries are not empty',
    (m) => (node(m, ['Secrets', 'rsaCert', 'Cert', 'Subject'])['Organization'] = ['']),
    'Secrets.rsaCert.Cert.Subject.Organization[0]',
  ],
  [
    'Cert.IPAddresses are IP addresses',
    (m) => (node(m, ['Secrets', 'rsaCert', 'Cert'])['IPAddresses'] = ['10.0.0.300']),
    'Secrets.rsaCert.Cert.IPAddresses[0]',
  ],
  [
    'Cert.DNSNames are not empty',
    (m) => (node(m, ['Secrets', 'rsaCert', 'Cert'])['DNSNames'] = ['']),
    'Secrets.rsaCert.Cert.DNSNames[0]',
  ],
  [
    'unknown Subject fields are errors',
    (m) => (node(m, ['Secrets', 'rsaCert', 'Cert', 'Subject'])['Names'] = []),
    'Secrets.rsaCert.Cert.Subject.Names',
  ],

  // Roles.
  [
    'ResourceType is required',
    (m) => delete role(m, 'updateBackend')['ResourceType'],
    'Roles.updateBackend.ResourceType',
  ],
  [
    'ResourceType is known',
    (m) => (role(m, 'updateBackend')['ResourceType'] = 'Users'),
    'Roles.updateBackend.ResourceType',
  ],
  [
    'Actions fit the ResourceType',
    (m) => (role(m, 'updateBackend')['Actions'] = ['ReadSecret']),
    'Roles.updateBackend.Actions[0]',
  ],
  [
    'Packages roles name packages',
    (m) => (role(m, 'updateBackend')['ResourceNames'] = ['database']),
    'Roles.updateBackend.ResourceNames[0]',
  ],
  [
    'Secrets roles name secrets',
    (m) => (role(m, 'secretManager')['ResourceNames'] = ['genericSecret', 'missing']),
    'Roles.secretManager.ResourceNames[1]',
  ],
  [
    'Manifest roles name nothing',
    (m) => (role(m, 'updateManifest')['ResourceNames'] = ['backend']),
    'Roles.updateManifest.ResourceNames[0]',
  ],
  [
    'WriteSecret needs a user-defined secret',
    (m) => (role(m, 'secretManager')['ResourceNames'] = ['secretAESKey']),
    'Roles.secretManager.ResourceNames[0]',
  ],
  [
    'ReadSecret cannot name a per-Marble secret',
    (m) => Object.assign(role(m, 'secretManager'), { ResourceNames: ['rsaCert'], Actions: ['ReadSecret'] }),
    'Roles.secretManager.ResourceNames[0]',
  ],

  // Users.
  [
    'users have roles that exist',
    (m) => (node(m, ['Users', 'alice'])['Roles'] = ['secretManager', 'root']),
    'Users.alice.Roles[1]',
  ],
  ['users have a Certificate', (m) => delete node(m, ['Users', 'alice'])['Certificate'], 'Users.alice.Certificate'],
  [
    'a Certificate is PEM',
    (m) => (node(m, ['Users', 'alice'])['Certificate'] = 'cert-alice'),
    'Users.alice.Certificate',
  ],
  [
    'a Certificate holds a certificate',
    (m) =>
      (node(m, ['Users', 'alice'])['Certificate'] = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
    'Users.alice.Certificate',
  ],
  [
    'a Certificate is one certificate',
    (m) => (node(m, ['Users', 'alice'])['Certificate'] = ALICE_CERT + ADMIN_CERT),
    'Users.alice.Certificate',
  ],
  [
    'two users never share a certificate',
    (m) => (node(m, ['Users', 'bob'])['Certificate'] = ALICE_CERT),
    'Users.bob.Certificate',
  ],

  // RecoveryKeys.
  ['a recovery key is a PEM public key', (m) => (m['RecoveryKeys'] = { admin: ALICE_CERT }), 'RecoveryKeys.admin'],
  ['a recovery key is an RSA key', (m) => (m['RecoveryKeys'] = { admin: ED25519_PUBLIC_KEY }), 'RecoveryKeys.admin'],

  // TLS.
  ['an incoming connection has a Port', (m) => delete incoming(m)['Port'], 'TLS.frontendTLS1.Incoming[1].Port'],
  ['a Port is a port number', (m) => (incoming(m)['Port'] = '70000'), 'TLS.frontendTLS1.Incoming[1].Port'],
  [
    'an outgoing connection has an Addr',
    (m) => delete node(m, ['TLS', 'frontendTLS1', 'Outgoing', 0])['Addr'],
    'TLS.frontendTLS1.Outgoing[0].Addr',
  ],
  ['an incoming Cert is a secret', (m) => (incoming(m)['Cert'] = 'missing'), 'TLS.frontendTLS1.Incoming[1].Cert'],
  [
    'an incoming Cert is a certificate secret',
    (m) => (incoming(m)['Cert'] = 'secretAESKey'),
    'TLS.frontendTLS1.Incoming[1].Cert',
  ],
  [
    'an incoming Cert disables client authentication',
    (m) => (incoming(m)['DisableClientAuth'] = false),
    'TLS.frontendTLS1.Incoming[1].Cert',
  ],
  [
    'DisableClientAuth needs a Cert',
    (m) => delete incoming(m)['Cert'],
    'TLS.frontendTLS1.Incoming[1].DisableClientAuth',
  ],
  [
    'unknown TLS entry fields are errors',
    (m) => (node(m, ['TLS', 'frontendTLS1', 'Outgoing', 0])['Cert'] = 'rsaCert'),
    'TLS.frontendTLS1.Outgoing[0].Cert',
  ],

  // Marbles.
  ['a Marble names a package', (m) => delete node(m, ['Marbles', 'frontend'])['Package'], 'Marbles.frontend.Package'],
  [
    "a Marble's package exists",
    (m) => (node(m, ['Marbles', 'frontend'])['Package'] = 'toString'),
    'Marbles.frontend.Package',
  ],
  [
    'MaxActivations is not negative',
    (m) => (node(m, ['Marbles', 'backendFirst'])['MaxActivations'] = -1),
    'Marbles.backendFirst.MaxActivations',
  ],
  [
    "a Marble's TLS tags exist",
    (m) => (node(m, ['Marbles', 'frontend'])['TLS'] = ['frontendTLS1', 'frontendTLS3']),
    'Marbles.frontend.TLS[1]',
  ],
  [
    'unknown Marble fields are errors',
    (m) => (node(m, ['Marbles', 'frontend'])['DisableSecretBinding'] = true),
    'Marbles.frontend.DisableSecretBinding',
  ],
  ['file paths have no ".." segment', (m) => (files(m)['../etc/passwd'] = 'x'), `${FILES}["../etc/passwd"]`],
  ['file paths end in a file name', (m) => (files(m)['/tmp/'] = 'x'), `${FILES}["/tmp/"]`],
  ['environment variable names hold no "="', (m) => (env(m)['A=B'] = 'x'), `${ENV}["A=B"]`],
  ['environment variables hold no NUL', (m) => (env(m)['IS_FIRST'] = 'tr\0ue'), `${ENV}.IS_FIRST`],
  ['environment variables are UTF-8', (m) => (env(m)['IS_FIRST'] = { Data: 'ff', Encoding: 'hex' }), `${ENV}.IS_FIRST`],
  [
    'Argv holds strings',
    (m) => (node(m, ['Marbles', 'backendFirst', 'Parameters'])['Argv'] = ['./backend', 1]),
    'Marbles.backendFirst.Parameters.Argv[1]',
  ],
  [
    'Argv holds no NUL',
    (m) => (node(m, ['Marbles', 'backendFirst', 'Parameters'])['Argv'] = ['./back\0end']),
    'Marbles.backendFirst.Parameters.Argv[0]',
  ],
  ['values are strings or objects', (m) => (env(m)['IS_FIRST'] = true), `${ENV}.IS_FIRST`],
  ['a value object has Data', (m) => (env(m)['IS_FIRST'] = { Encoding: 'string' }), `${ENV}.IS_FIRST.Data`],
  [
    'unknown value fields are errors',
    (m) => (env(m)['IS_FIRST'] = { Data: 'x', Template: true }),
    `${ENV}.IS_FIRST.Template`,
  ],
  ['Encoding is known', (m) => (env(m)['IS_FIRST'] = { Data: 'x', Encoding: 'utf-16' }), `${ENV}.IS_FIRST.Encoding`],
  [
    'base64 Data is base64',
    (m) => (files(m)['/tmp/pqr.ust'] = { Data: 'Zm9v!', Encoding: 'base64' }),
    `${FILES}["/tmp/pqr.ust"]`,
  ],
  ['hex Data is hex', (m) => (files(m)['/tmp/pqr.ust'] = { Data: 'abc', Encoding: 'hex' }), `${FILES}["/tmp/pqr.ust"]`],

  // The template dry run.
  ['templates name secrets that exist', (m) => (env(m)['API_KEY'] = '{{ hex .Secrets.apiKey }}'), `${ENV}.API_KEY`],
  ['template functions are known', (m) => (env(m)['API_KEY'] = '{{ upper .Secrets.secretAESKey }}'), `${ENV}.API_KEY`],
  [
    'template actions are FUNC REFERENCE only',
    (m) => (env(m)['API_KEY'] = '{{ .Secrets.secretAESKey | hex }}'),
    `${ENV}.API_KEY`,
  ],
  ['template actions are closed', (m) => (env(m)['API_KEY'] = 'key={{ hex .Secrets.secretAESKey'), `${ENV}.API_KEY`],
  ['raw is only for Files', (m) => (env(m)['API_KEY'] = '{{ raw .Secrets.secretAESKey }}'), `${ENV}.API_KEY`],
  [
    'string is only for Env',
    (m) => (files(m)['/tmp/generic'] = '{{ string .Secrets.genericSecret }}'),
    `${FILES}["/tmp/generic"]`,
  ],
  [
    'string is only for plain secrets',
    (m) => (env(m)['API_KEY'] = '{{ string .Secrets.secretAESKey }}'),
    `${ENV}.API_KEY`,
  ],
  ['pem needs a certificate or key', (m) => (env(m)['API_KEY'] = '{{ pem .Secrets.secretAESKey }}'), `${ENV}.API_KEY`],
  [
    '.Cert is only for certificate secrets',
    (m) => (env(m)['API_KEY'] = '{{ hex .Secrets.secretAESKey.Cert }}'),
    `${ENV}.API_KEY`,
  ],
  ['secret accessors are known', (m) => (env(m)['API_KEY'] = '{{ pem .Secrets.rsaCert.Key }}'), `${ENV}.API_KEY`],
  ['.MarbleRun values are known', (m) => (env(m)['API_KEY'] = '{{ pem .MarbleRun.RootCA.Private }}'), `${ENV}.API_KEY`],
  [
    '.Previous has only the previous secrets',
    (m) => (env(m)['API_KEY'] = '{{ pem .Previous.MarbleRun.RootCA.Cert }}'),
    `${ENV}.API_KEY`,
  ],
  [
    '.MarbleRun.CoordinatorRoot is not provided',
    (m) => (env(m)['API_KEY'] = '{{ pem .MarbleRun.CoordinatorRoot.Cert }}'),
    `${ENV}.API_KEY`,
  ],
  [
    'templates apply to decoded data',
    (m) =>
      (files(m)['/tmp/pqr.ust'] = {
        Data: Buffer.from('{{ raw .Secrets.nope }}').toString('base64'),
        Encoding: 'base64',
      }),
    `${FILES}["/tmp/pqr.ust"]`,
  ],

  // Config.
  ['SealMode is known', (m) => (node(m, ['Config'])['SealMode'] = 'Sealed'), 'Config.SealMode'],
  ['FeatureGates are known', (m) => (node(m, ['Config'])['FeatureGates'] = ['Turbo']), 'Config.FeatureGates[0]'],
  [
    'UpdateThreshold is within the users allowed to update',
    (m) => (node(m, ['Config'])['UpdateThreshold'] = 2),
    'Config.UpdateThreshold',
  ],
  [
    'RecoveryThreshold, if set, is at least 2',
    (m) => (node(m, ['Config'])['RecoveryThreshold'] = 1),
    'Config.RecoveryThreshold',
  ],
  [
    'RecoveryThreshold is within the recovery keys',
    (m) => (node(m, ['Config'])['RecoveryThreshold'] = 2),
    'Config.RecoveryThreshold',
  ],
  ['unknown Config fields are errors', (m) => (node(m, ['Config'])['Threshold'] = 1), 'Config.Threshold'],

  // Volumes (cloister).
  ['a volume has a known Mode', (m) => (m['Volumes'] = { code: { ...VOLUME, Mode: 'append' } }), 'Volumes.code.Mode'],
  [
    'a volume names existing services',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Services: ['nobody'] } }),
    'Volumes.code.Services[0]',
  ],
  ['a volume path has no ".."', (m) => (m['Volumes'] = { code: { ...VOLUME, Path: '../etc' } }), 'Volumes.code.Path'],
  [
    'a volume Path of "/" is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: '/' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume Path of "." is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: '.' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume Path of "/.." is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: '/..' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume Path of "./" is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: './' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume Path of "//" is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: '//' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume Path of "a/.." is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: 'a/..' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume Sealed of "/" is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Sealed: '/' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a volume Sealed of "." is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Sealed: '.' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a volume Sealed of "/.." is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Sealed: '/..' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a volume Sealed of "./" is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Sealed: './' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a volume Sealed of "//" is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Sealed: '//' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a volume Sealed of "a/.." is refused (the root or the working folder itself)',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Sealed: 'a/..' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a volume decrypts elsewhere than its sealed folder',
    (m) => (m['Volumes'] = { code: { ...VOLUME, Path: 'app.sealed/' } }),
    'Volumes.code.Path',
  ],
  [
    'a volume needs a Sealed folder',
    (m) => (m['Volumes'] = { code: { Mode: 'read-only', Path: 'app' } }),
    'Volumes.code.Sealed',
  ],
  [
    'a Volumes role names existing volumes',
    (m) =>
      (node(m, ['Roles'])['sealer'] = { ResourceType: 'Volumes', ResourceNames: ['nothing'], Actions: ['SealVolume'] }),
    'Roles.sealer.ResourceNames[0]',
  ],
  [
    'a Volumes role takes volume actions',
    (m) =>
      Object.assign(m, {
        Volumes: { code: VOLUME },
        Roles: {
          ...node(m, ['Roles']),
          sealer: { ResourceType: 'Volumes', ResourceNames: ['code'], Actions: ['ReadSecret'] },
        },
      }),
    'Roles.sealer.Actions[0]',
  ],
];

for (const [name, change, path] of RULES) {
  test(`rejects: ${name}`, () => {
    const m = marbleRunExample();
    change(m);
    throwsAt(() => parse(m), 'MANIFEST_INVALID', path);
  });
}

/** Rules about the document itself, given as input rather than as a change. */
const DOCUMENTS: [name: string, input: () => Uint8Array | string][] = [
  ['the document is valid UTF-8', () => new Uint8Array([0x7b, 0xff, 0x7d])],
  ['the document is JSON', () => '{"Packages": '],
  ['the document is a JSON object', () => '[]'],
  ['a byte order mark is refused (as Go does)', () => `\ufeff${JSON.stringify(marbleRunExample())}`],
  ['the input is bytes or a string', () => 42 as unknown as string],
];

for (const [name, input] of DOCUMENTS) {
  test(`rejects: ${name}`, () => void throwsAt(() => parseManifest(input()), 'MANIFEST_INVALID', '$'));
}

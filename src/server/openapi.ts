/** The OpenAPI 3.1 description of the client and mesh APIs, served at `/api/v1/openapi.json`. */

const problem = {
  description: 'RFC 7807 problem details',
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const errors = {
  '400': problem,
  '401': problem,
  '403': problem,
  '404': problem,
  '409': problem,
  '413': problem,
  '500': problem,
};
const b64 = { type: 'string', contentEncoding: 'base64' };
const secret = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['symmetric-key', 'cert-rsa', 'cert-ecdsa', 'cert-ed25519', 'plain'] },
    key: b64,
    cert: b64,
    private: b64,
    public: b64,
  },
};
const recoverySecrets = { type: 'object', additionalProperties: b64 };
const status = {
  type: 'object',
  properties: {
    // RecoveryMode: the state key cannot be opened on this platform (docs/recovery.md).
    status: { enum: ['AcceptingManifest', 'AcceptingMarbles', 'RecoveryMode'] },
    simulation: { type: 'boolean' },
    tee: { type: 'string' },
    manifestFingerprint: { type: 'string' },
  },
};

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'cloister coordinator',
    version: '1',
    description:
      'Client API (users, operators) on the client address; mesh API (workload activation) on the mesh address.',
  },
  paths: {
    '/api/v1/status': { get: { summary: 'Coordinator state', responses: { '200': json(status), ...errors } } },
    '/api/v1/quote': {
      get: {
        summary: "The coordinator's evidence; report data = SHA-256(root certificate DER ‖ nonce) ‖ 32 zero bytes",
        parameters: [{ name: 'nonce', in: 'query', schema: { type: 'string', pattern: '^([0-9a-fA-F]{2}){0,64}$' } }],
        responses: {
          '200': json({
            allOf: [
              status,
              {
                type: 'object',
                properties: {
                  evidence: b64,
                  collateral: { type: 'object' },
                  root: { type: 'string' },
                  intermediate: { type: 'string' },
                },
              },
            ],
          }),
          ...errors,
        },
      },
    },
    '/api/v1/manifest': {
      get: {
        summary: 'The manifest and its fingerprint (SHA-256 of its exact bytes)',
        responses: {
          '200': json({ type: 'object', properties: { fingerprint: { type: 'string' }, manifest: b64 } }),
          ...errors,
        },
      },
      post: {
        summary:
          "Set the manifest (once); with RecoveryKeys, MarbleRun's RecoverySecrets (each encrypted to its holder)",
        requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
        responses: {
          '200': json({
            type: 'object',
            properties: { fingerprint: { type: 'string' }, RecoverySecrets: recoverySecrets },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/history': {
      get: {
        summary: 'The hash-chained history of changes and its head, signed by the root key (docs/history.md)',
        responses: {
          '200': json({
            type: 'object',
            properties: {
              entries: { type: 'array', items: { type: 'object' } },
              head: {
                type: 'object',
                properties: { size: { type: 'integer' }, hash: { type: 'string' }, signature: b64 },
              },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/recovery': {
      get: {
        summary: 'The recovery secrets again, for their holders',
        responses: { '200': json({ type: 'object', properties: { RecoverySecrets: recoverySecrets } }), ...errors },
      },
    },
    '/api/v1/recover': {
      post: {
        summary: "A key holder's decrypted recovery secret (raw bytes), in recovery mode only",
        requestBody: { content: { 'application/octet-stream': {} } },
        responses: {
          '200': json({
            type: 'object',
            properties: { holder: { type: 'string' }, remaining: { type: 'integer' }, recovered: { type: 'boolean' } },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/attestation': {
      get: {
        summary:
          "The coordinator's own evidence as its verifier judges it now, and the root `cloister verify` pins (for the dashboard; clients attest with /api/v1/quote)",
        responses: {
          '200': json({
            type: 'object',
            properties: {
              tee: { type: 'string' },
              simulation: { type: 'boolean' },
              tcbStatus: { type: 'string' },
              advisoryIds: { type: 'array', items: { type: 'string' } },
              identity: {
                type: 'object',
                description: 'mrenclave, mrsigner, isvProdId, isvSvn (SGX) or the TEE kind’s identity claims',
              },
              root: {
                type: 'object',
                properties: { subject: { type: 'string' }, sha256: { type: 'string' }, notAfter: { type: 'string' } },
              },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/activations': {
      get: {
        summary: 'Activations so far of each service of the manifest',
        responses: {
          '200': json({
            type: 'object',
            properties: { activations: { type: 'object', additionalProperties: { type: 'integer' } } },
          }),
          ...errors,
        },
      },
    },
    '/dashboard': {
      get: {
        summary:
          'The read-only web dashboard (HTML, inline style and script, strict Content-Security-Policy); also at /',
        responses: { '200': { description: 'OK', content: { 'text/html': {} } } },
      },
    },
    '/api/v1/certificate': {
      get: {
        summary: 'Intermediate and root certificates (PEM)',
        responses: { '200': { description: 'PEM', content: { 'application/x-pem-file': {} } }, ...errors },
      },
    },
    '/api/v1/secrets': {
      get: {
        summary: 'Read secrets (client certificate of a user with ReadSecret)',
        parameters: [{ name: 's', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': json({ type: 'object', additionalProperties: secret }), ...errors },
      },
      post: {
        summary: 'Set user-defined secrets (client certificate of a user with WriteSecret)',
        requestBody: { content: { 'application/json': { schema: { type: 'object', additionalProperties: secret } } } },
        responses: { '204': { description: 'set' }, ...errors },
      },
    },
    '/mesh/v1/nonce': {
      post: {
        summary: 'A single-use activation nonce (mesh address)',
        responses: { '200': json({ type: 'object', properties: { nonce: b64 } }), ...errors },
      },
    },
    '/mesh/v1/activate': {
      post: {
        summary:
          "Activate a workload; its evidence's report data = SHA-256(public key SPKI DER ‖ nonce) ‖ 32 zero bytes (mesh address)",
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['service', 'instanceId', 'nonce', 'evidence', 'publicKey'],
                properties: {
                  service: { type: 'string' },
                  instanceId: { type: 'string' },
                  nonce: b64,
                  evidence: b64,
                  publicKey: b64,
                  dnsNames: { type: 'array', items: { type: 'string' } },
                  ipAddresses: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
        responses: {
          '200': json({
            type: 'object',
            properties: {
              certChain: { type: 'string' },
              rootCa: { type: 'string' },
              manifest: b64,
              secrets: { type: 'object', additionalProperties: secret },
              tcbStatus: { type: 'string' },
              simulation: { type: 'boolean' },
            },
          }),
          ...errors,
        },
      },
    },
  },
  components: {
    schemas: {
      Problem: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          code: { type: 'string' },
        },
      },
    },
  },
} as const;

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CloisterError, type ErrorCode } from '../../src/lib/errors.js';
import { parseManifest, type ParsedManifest } from '../../src/manifest/index.js';
import { ALICE_CERT, BOB_CERT, RECOVERY_KEY } from './fixtures.js';

export type Json = Record<string, unknown>;

/** The repository root (tests run from dist/test/manifest). */
export const ROOT = new URL('../../../', import.meta.url);

/** examples/manifest.json, as a fresh object. */
export function example(): Json {
  return JSON.parse(readFileSync(new URL('examples/manifest.json', ROOT), 'utf8')) as Json;
}

/**
 * The manifest of MarbleRun's manifest reference ("Defining a manifest"), its sections put
 * together: Packages, Marbles (with a base64 NoTemplates file, Env templates, Argv, TLS tags),
 * Secrets (symmetric key, RSA certificate, user-defined key and plain secret), Users, Roles,
 * RecoveryKeys, TLS and Config. Written for cloister's tests from the documented structure.
 */
export function marbleRunExample(): Json {
  return {
    Packages: {
      backend: {
        UniqueID: '6b2822ac2585040d4b9397675d54977a71ef292ab5b3c0a6acceca26074ae585',
        Debug: false,
        AcceptedTCBStatuses: [
          'UpToDate',
          'SWHardeningNeeded',
          'ConfigurationNeeded',
          'ConfigurationAndSWHardeningNeeded',
        ],
        AcceptedAdvisories: ['INTEL-SA-00001'],
      },
      frontend: {
        SignerID: '43361affedeb75affee9baec7e054a5e14883213e5a121b67d74a0e12e9d2b7a',
        ProductID: 43,
        SecurityVersion: 3,
        Debug: true,
      },
    },
    Marbles: {
      backendFirst: {
        Package: 'backend',
        MaxActivations: 1,
        Parameters: {
          Files: {
            '/tmp/defg.txt': 'foo',
            '/tmp/jkl.mno': 'bar',
            '/tmp/pqr.ust': { Data: 'Zm9vCmJhcg==', Encoding: 'base64', NoTemplates: true },
          },
          Env: {
            IS_FIRST: 'true',
            ROOT_CA: '{{ pem .MarbleRun.RootCA.Cert }}',
            MARBLE_CERT: '{{ pem .MarbleRun.MarbleCert.Cert }}',
            MARBLE_KEY: '{{ pem .MarbleRun.MarbleCert.Private }}',
            AES_KEY: '{{ hex .Secrets.secretAESKey }}',
          },
          Argv: ['./backend', '--first', 'serve'],
        },
        TLS: ['backendFirstTLS'],
      },
      frontend: {
        Package: 'frontend',
        Parameters: {
          Files: {
            '/tmp/rsa-cert.pem': '{{ pem .Secrets.rsaCert.Cert }}',
            '/tmp/rsa-key.der': '{{ raw .Secrets.rsaCert.Private }}',
            '/tmp/rsa-public.pem': '{{ pem .Secrets.rsaCert.Public }}',
          },
          Env: {
            ROOT_CA: '{{ pem .MarbleRun.RootCA.Cert }}',
            MARBLE_CERT: '{{ pem .MarbleRun.MarbleCert.Cert }}',
            MARBLE_KEY: '{{ pem .MarbleRun.MarbleCert.Private }}',
            GENERIC: '{{ string .Secrets.genericSecret }}',
          },
        },
        TLS: ['frontendTLS1', 'frontendTLS2'],
      },
    },
    Secrets: {
      secretAESKey: { Type: 'symmetric-key', Size: 128, Shared: true },
      rsaCert: {
        Type: 'cert-rsa',
        Size: 2048,
        Shared: false,
        ValidFor: 7,
        Cert: { Subject: { CommonName: 'MarbleRun Unit Test' } },
      },
      secretKeyUnset: { Type: 'symmetric-key', Size: 128, UserDefined: true },
      genericSecret: { Type: 'plain', UserDefined: true },
    },
    Users: {
      alice: { Certificate: ALICE_CERT, Roles: ['secretManager', 'updateFrontend', 'updateManifest'] },
      bob: { Certificate: BOB_CERT, Roles: ['secretManager', 'updateBackend'] },
    },
    Roles: {
      updateFrontend: { ResourceType: 'Packages', ResourceNames: ['frontend'], Actions: ['UpdateSecurityVersion'] },
      updateBackend: { ResourceType: 'Packages', ResourceNames: ['backend'], Actions: ['UpdateSecurityVersion'] },
      secretManager: {
        ResourceType: 'Secrets',
        ResourceNames: ['secretKeyUnset', 'genericSecret'],
        Actions: ['ReadSecret', 'WriteSecret'],
      },
      updateManifest: { ResourceType: 'Manifest', Actions: ['UpdateManifest'] },
    },
    RecoveryKeys: { recoveryKey1: RECOVERY_KEY },
    TLS: {
      frontendTLS1: {
        Outgoing: [
          { Port: '8080', Addr: 'service.name' },
          { Port: '4443', Addr: '10.111.37.164' },
        ],
        Incoming: [{ Port: '8443' }, { Port: '8080', Cert: 'rsaCert', DisableClientAuth: true }],
      },
      frontendTLS2: { Incoming: [{ Port: '9443' }] },
      backendFirstTLS: { Outgoing: [{ Port: '8443', Addr: 'frontend' }] },
    },
    Config: { SealMode: 'ProductKey', UpdateThreshold: 1, FeatureGates: [], RotateRootSecret: false },
  };
}

export function parse(doc: unknown): ParsedManifest {
  return parseManifest(JSON.stringify(doc));
}

/** Asserts that `fn` throws a CloisterError with `code` and `path`; returns it. */
export function throwsAt(fn: () => unknown, code: ErrorCode, path: string): CloisterError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CloisterError, `expected a CloisterError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.path, path, caught.message);
  return caught;
}

/** Walks `doc` along `keys` (object keys and array indexes), creating objects on the way. */
export function node(doc: Json, keys: readonly (string | number)[]): Json {
  let at: Json = doc;
  for (const k of keys) {
    const next = (at as Record<string | number, unknown>)[k] ?? ((at as Record<string | number, unknown>)[k] = {});
    at = next as Json;
  }
  return at;
}

import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { AttestationClient, type AttestationSigner, type AttestationTokenValidationOptions } from '@azure/attestation';
import { DcapVerifier, customRoot, type Policy, type QuoteCollateralV3 } from '../../src/attest/index.js';
import { createSimPlatform, simCollateral, type SimPlatform } from '../../src/attest/sim/index.js';
import { AttestationService, fixedCollateral, type CollateralSource } from '../../src/attestation-service/index.js';
import { serveAttestation } from '../../src/cli/attestation-service.js';
import { fileStore } from '../../src/store/index.js';
import { pemCert } from '../../src/pki/index.js';
import { freePort, tempDir } from '../e2e/harness.js';

/**
 * A real attestation service over HTTPS in this process, and Microsoft's `@azure/attestation`
 * client talking to it through a TLS agent that trusts the service's root (the SDK passes
 * `agent` to its Node HTTP pipeline).
 */

/** dist/test/attestation-service/*.js → test/vectors/. */
export const VECTORS = new URL('../../../test/vectors/', import.meta.url);

export const vectorFile = (path: string): Buffer => readFileSync(new URL(path, VECTORS));
export const vectorJson = <T>(path: string): T => JSON.parse(vectorFile(path).toString('utf8')) as T;

export interface Running {
  service: AttestationService;
  instance: string;
  rootPem: string;
  agent: Agent;
  close(): Promise<void>;
}

export interface ServeOptions {
  now: () => number;
  policy: Policy;
  /** The DCAP trust root; Intel's by default. */
  dcap?: DcapVerifier;
  collateral: CollateralSource;
}

/** Starts a service on a free local port with its state in a fresh temporary folder. */
export async function serve(o: ServeOptions): Promise<Running> {
  const instance = `https://127.0.0.1:${await freePort()}`;
  const dir = tempDir('maa');
  const service = await AttestationService.open({
    instance,
    store: fileStore({ dir, key: new Uint8Array(32).fill(7) }),
    dcap: o.dcap ?? new DcapVerifier(),
    collateral: o.collateral,
    policy: o.policy,
    policyText: JSON.stringify(o.policy),
    now: o.now,
  });
  const served = await serveAttestation(service, instance.slice('https://'.length));
  const agent = new Agent({ ca: served.rootPem, keepAlive: true });
  return {
    service,
    instance,
    rootPem: served.rootPem,
    agent,
    close: async () => {
      agent.destroy();
      await served.close();
    },
  };
}

/** A service for one real SGX vector, its clock fixed at the vector's own time. */
export async function serveVector(name: string, policy: Policy): Promise<Running & { at: number }> {
  const at = vectorJson<{ verify_at_unix: number }>(`${name}/expected.json`).verify_at_unix;
  const dcap = new DcapVerifier();
  const running = await serve({
    now: () => at,
    policy,
    dcap,
    collateral: fixedCollateral(dcap, [vectorJson<QuoteCollateralV3>(`${name}/collateral.json`)]),
  });
  return { ...running, at };
}

/** A service trusting a fresh simulated platform, on the real clock, with that platform's collateral (of `tcbStatus`). */
export async function serveSimulation(
  policy: Policy,
  tcbStatus?: 'UpToDate' | 'OutOfDate',
): Promise<Running & { platform: SimPlatform }> {
  const now = Date.now() / 1000;
  const platform = await createSimPlatform({ now });
  const dcap = new DcapVerifier(customRoot(platform.root.cert.der));
  const collateral = fixedCollateral(dcap, [
    await simCollateral(platform, { now, tee: 'sgx', ...(tcbStatus ? { tcbStatus } : {}) }),
  ]);
  return {
    ...(await serve({ now: () => Date.now() / 1000, policy: { allowSimulation: true, ...policy }, dcap, collateral })),
    platform,
  };
}

/**
 * The validation the docs prescribe: signature, times, issuer, and a callback that pins the
 * algorithm to RS256 and the signer to a key of `/certs` (the SDK alone accepts `alg: none` and
 * certificates the token carries itself). `times: false` for tokens stamped at a vector's past time.
 */
export function safeValidation(
  instance: string,
  trusted: readonly AttestationSigner[],
  times = true,
): AttestationTokenValidationOptions {
  return {
    validateToken: true,
    validateExpirationTime: times,
    validateNotBeforeTime: times,
    validateIssuer: true,
    expectedIssuer: instance,
    validateAttestationToken: (token, signer) => {
      if (token.algorithm !== 'RS256') return [`algorithm ${token.algorithm} is not RS256`];
      const known =
        signer !== undefined &&
        trusted.some((t) => t.keyId === signer.keyId && t.certificates[0] === signer.certificates[0]);
      return known ? undefined : ["the token is not signed by a key of the instance's /certs"];
    },
  };
}

/** An SDK client for a running service, validating as the docs say (signers fetched from /certs now). */
export async function sdkClient(
  r: Running,
  times = true,
): Promise<{ client: AttestationClient; signers: AttestationSigner[] }> {
  const plain = new AttestationClient(r.instance, { agent: r.agent });
  const signers = await plain.getAttestationSigners();
  return {
    client: new AttestationClient(r.instance, {
      agent: r.agent,
      validationOptions: safeValidation(r.instance, signers, times),
    }),
    signers,
  };
}

/** An Open Enclave remote report: oe_report_header_t (version 1, type 2 SGX remote, u64 size) and the quote. */
export function openEnclaveReport(quote: Uint8Array): Uint8Array {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(1, 0);
  header.writeUInt32LE(2, 4);
  header.writeBigUInt64LE(BigInt(quote.length), 8);
  return new Uint8Array(Buffer.concat([header, quote]));
}

/** A real SEV-SNP report of an Azure Genoa VM with its VCEK, ASK and ARK (from Trustee's tests). */
export const SNP_VECTOR = 'snp/trustee-azure-genoa-vcek';

/** The `report` member of /attest/SevSnpVm: base64url of JSON { SnpReport, VcekCertChain } (VCEK, ASK, ARK as PEM). */
export function snpReportMember(report: Uint8Array = new Uint8Array(vectorFile(`${SNP_VECTOR}/report.bin`))): string {
  const chain =
    pemCert(new Uint8Array(vectorFile(`${SNP_VECTOR}/vcek.der`))) +
    vectorFile(`${SNP_VECTOR}/ask.pem`).toString('latin1') +
    vectorFile(`${SNP_VECTOR}/ark.pem`).toString('latin1');
  const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
  return b64u(JSON.stringify({ SnpReport: b64u(report), VcekCertChain: b64u(chain) }));
}

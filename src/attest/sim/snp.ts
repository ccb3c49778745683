import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata API before it loads.
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, sign, webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { CloisterError } from '../../lib/errors.js';
import { equal, fromHex, hex } from '../../lib/bytes.js';
import { JsonReader } from '../../lib/json.js';
import { parseCertificate, pemCertificates, type Certificate } from '../lib/x509.js';
import { pemCert } from '../../pki/pem.js';
import { AMD_OID } from '../snp/endorsement.js';
import { encodeCertTable } from '../snp/evidence.js';
import { PRODUCT_LINES, TCB_COMPONENTS, TCB_LAYOUTS, type TcbComponent } from '../snp/product.js';
import { SNP_REPORT_SIZE, SNP_SIGNED_SIZE } from '../snp/report.js';

/**
 * The simulated SEV-SNP platform: an ARK and ASK of its own (RSA-PSS SHA-384, as AMD's), a VCEK
 * (P-384) with AMD's extensions for its chip id and TCB, and attestation reports in the real
 * format (SEV-SNP ABI spec §7.3 Table 23, version 3) signed by the VCEK. `SnpVerifier` checks them
 * with the simulated ARK as the Milan root, so its verdicts say `simulation: true`.
 */

/** What the simulated Milan chip reports: its TCB, firmware version and CPUID (family 19h model 01h, a Milan part). */
export const SIM_SNP = {
  product: 'Milan',
  productName: 'Milan-B0',
  tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 } satisfies Partial<Record<TcbComponent, number>>,
  firmware: { build: 21, minor: 55, major: 1 },
  cpuid: [0x19, 0x01, 0x01],
  /** Guest policy: ABI 0.31, SMT allowed, reserved bit 17 set (ABI spec §4.3 Table 9). */
  policy: 0x3001f,
  /** PLATFORM_INFO: SMT enabled, TSME enabled (ABI spec Table 24). */
  platformInfo: 0x3,
} as const;

/** A simulated SNP platform: its AMD-style chain and the VCEK's private key. */
export interface SimSnpPlatform {
  readonly ark: Certificate;
  readonly ask: Certificate;
  readonly vcek: Certificate;
  readonly vcekKey: KeyObject;
  readonly chipId: Uint8Array;
}

/** The JSON-safe form of a {@link SimSnpPlatform}. */
export interface SimSnpState {
  version: 1;
  ark: string;
  ask: string;
  vcek: string;
  vcekKey: string;
  chipId: string;
}

const DAY = 86_400;
const PSS = { name: 'RSA-PSS', saltLength: 48 } as const;
const RSA = {
  name: 'RSA-PSS',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-384',
} as const;
const P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const amdName = (cn: string) => `OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=${cn}`;

/** DER of an INTEGER 0..255 and of an IA5String, for AMD's extension values (VCEK spec §3.1). */
const derInteger = (n: number) => new Uint8Array(n < 0x80 ? [0x02, 1, n] : [0x02, 2, 0, n]);
const derIa5 = (text: string) => new Uint8Array([0x16, text.length, ...Buffer.from(text, 'latin1')]);

/**
 * Creates a simulated SNP platform valid for `validDays` from an hour before `now`.
 *
 * @example
 * ```ts
 * const snp = await createSimSnpPlatform({ now: Date.now() / 1000 });
 * const evidence = simSnpEvidence(snp, { reportData, measurement });
 * ```
 */
export async function createSimSnpPlatform(options: { now: number; validDays?: number }): Promise<SimSnpPlatform> {
  const start = Math.floor(options.now) - 3600;
  const validity = {
    notBefore: new Date(start * 1000),
    notAfter: new Date((start + (options.validDays ?? 365) * DAY) * 1000),
  };
  const [ark, ask, vcek] = await Promise.all([
    webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']),
    webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']),
    webcrypto.subtle.generateKey(P384, true, ['sign', 'verify']),
  ]);
  const line = PRODUCT_LINES[SIM_SNP.product];
  const usage = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
  const serial = () =>
    `${(((randomBytes(1)[0] as number) & 0x3f) | 0x40).toString(16)}${randomBytes(15).toString('hex')}`;
  const arkCert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: amdName(line.ark),
      ...validity,
      keys: ark,
      signingAlgorithm: PSS,
      extensions: [new KeyUsagesExtension(usage, true), new BasicConstraintsExtension(true, undefined, true)],
    },
    webcrypto,
  );
  const askCert = await X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: amdName(line.ask),
      issuer: arkCert.subject,
      ...validity,
      publicKey: ask.publicKey,
      signingKey: ark.privateKey,
      signingAlgorithm: PSS,
      extensions: [new BasicConstraintsExtension(true, 0, true), new KeyUsagesExtension(usage, true)],
    },
    webcrypto,
  );
  const chipId = new Uint8Array(randomBytes(line.chipIdBytes));
  const vcekCert = await X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: amdName('SEV-VCEK'),
      issuer: askCert.subject,
      ...validity,
      publicKey: vcek.publicKey,
      signingKey: ask.privateKey,
      signingAlgorithm: PSS,
      extensions: [
        new Extension(AMD_OID.structVersion, false, derInteger(0)),
        new Extension(AMD_OID.productName, false, derIa5(SIM_SNP.productName)),
        ...Object.entries(SIM_SNP.tcb).map(
          ([c, spl]) => new Extension(TCB_COMPONENTS[c as TcbComponent].oid, false, derInteger(spl)),
        ),
        new Extension(AMD_OID.hwid, false, chipId),
      ],
    },
    webcrypto,
  );
  return importSimSnpState({
    version: 1,
    ark: pemCert(new Uint8Array(arkCert.rawData)),
    ask: pemCert(new Uint8Array(askCert.rawData)),
    vcek: pemCert(new Uint8Array(vcekCert.rawData)),
    vcekKey: KeyObject.from(vcek.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString(),
    chipId: hex(chipId),
  });
}

/** The state to keep in the simulated platform's folder. @example `JSON.stringify(exportSimSnpState(snp))` */
export function exportSimSnpState(p: SimSnpPlatform): SimSnpState {
  return {
    version: 1,
    ark: pemCert(p.ark.der),
    ask: pemCert(p.ask.der),
    vcek: pemCert(p.vcek.der),
    vcekKey: p.vcekKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    chipId: hex(p.chipId),
  };
}

const j = new JsonReader('SIM_STATE_INVALID', 'simSnpState');

/**
 * Loads a state written by {@link exportSimSnpState}; anything malformed, or a key that is not
 * the VCEK's, throws SIM_STATE_INVALID naming the field.
 *
 * @example `const snp = importSimSnpState(JSON.parse(readFileSync('snp.json', 'utf8')))`
 */
export function importSimSnpState(json: unknown): SimSnpPlatform {
  const o = j.object(json);
  if (o['version'] !== 1) throw j.fail('simSnpState.version', 'must be 1');
  const cert = (name: 'ark' | 'ask' | 'vcek') => {
    try {
      const [der] = pemCertificates(j.string(o, name), `simSnpState.${name}`);
      if (der) return parseCertificate(der);
    } catch (cause) {
      throw new CloisterError('SIM_STATE_INVALID', `simSnpState.${name}: not a certificate`, { cause });
    }
    throw j.fail(`simSnpState.${name}`, 'must hold a certificate');
  };
  const [ark, ask, vcek] = [cert('ark'), cert('ask'), cert('vcek')];
  let vcekKey: KeyObject;
  try {
    vcekKey = createPrivateKey({ key: j.string(o, 'vcekKey'), format: 'pem' });
  } catch (cause) {
    throw new CloisterError('SIM_STATE_INVALID', 'simSnpState.vcekKey: not a private key', { cause });
  }
  const spki = new Uint8Array(createPublicKey(vcekKey).export({ format: 'der', type: 'spki' }));
  if (!equal(spki, vcek.spki)) throw j.fail('simSnpState.vcekKey', 'is not the private key of the VCEK');
  const chipId = fromHex(j.string(o, 'chipId'));
  if (chipId?.length !== PRODUCT_LINES[SIM_SNP.product].chipIdBytes)
    throw j.fail('simSnpState.chipId', `must be ${PRODUCT_LINES[SIM_SNP.product].chipIdBytes} bytes of hex`);
  return { ark, ask, vcek, vcekKey, chipId };
}

/** What a simulated guest reports. */
export interface SimSnpReportOptions {
  /** REPORT_DATA, 64 bytes. */
  reportData: Uint8Array;
  /** MEASUREMENT, 48 bytes: the launch digest of the guest. */
  measurement: Uint8Array;
  /** HOST_DATA, 32 bytes (zeros by default). */
  hostData?: Uint8Array | undefined;
  /** VMPL the request came from (0 by default). */
  vmpl?: number | undefined;
  /** A guest whose policy allows debugging. */
  debug?: boolean | undefined;
}

/** An 8-byte TCB_VERSION of the simulated chip (legacy layout, ABI spec Table 3). */
function tcbVersion(): Uint8Array {
  const out = new Uint8Array(8);
  for (const [c, at] of Object.entries(TCB_LAYOUTS.legacy.components))
    out[at] = SIM_SNP.tcb[c as keyof typeof SIM_SNP.tcb] ?? 0;
  return out;
}

/**
 * A signed version 3 ATTESTATION_REPORT (ABI spec §7.3 Table 23), as the firmware returns it to
 * the guest (`/dev/sev-guest`, configfs-tsm `outblob`).
 *
 * @example `const report = simSnpReport(snp, { reportData, measurement })`
 */
export function simSnpReport(p: SimSnpPlatform, o: SimSnpReportOptions): Uint8Array {
  const sized = (field: string, value: Uint8Array, size: number) => {
    if (value.length !== size)
      throw new CloisterError('USAGE', `${field}: must be ${size} bytes, got ${value.length}`, { field });
    return value;
  };
  const r = Buffer.alloc(SNP_REPORT_SIZE);
  r.writeUInt32LE(3, 0x00); // VERSION
  r.writeUInt32LE(SIM_SNP.policy | (o.debug ? 1 << 19 : 0), 0x08);
  r.writeUInt32LE(o.vmpl ?? 0, 0x30);
  r.writeUInt32LE(1, 0x34); // SIGNATURE_ALGO: ECDSA P-384 with SHA-384
  const tcb = tcbVersion();
  for (const at of [0x38, 0x180, 0x1e0, 0x1f0]) r.set(tcb, at); // CURRENT, REPORTED, COMMITTED, LAUNCH TCB
  r.writeUInt32LE(SIM_SNP.platformInfo, 0x40);
  r.set(sized('reportData', o.reportData, 64), 0x50);
  r.set(sized('measurement', o.measurement, 48), 0x90);
  if (o.hostData) r.set(sized('hostData', o.hostData, 32), 0xc0);
  r.set(randomBytes(32), 0x140); // REPORT_ID
  r.fill(0xff, 0x160, 0x180); // REPORT_ID_MA: no migration agent
  r.set(SIM_SNP.cpuid, 0x188);
  r.set(p.chipId, 0x1a0);
  const fw = SIM_SNP.firmware;
  r.set([fw.build, fw.minor, fw.major, 0, fw.build, fw.minor, fw.major, 0], 0x1e8);
  // ABI spec §7.3: ECDSA P-384 over bytes 0x000-0x29F; R and S little-endian, zero-extended to 72 bytes.
  const sig = sign('sha384', r.subarray(0, SNP_SIGNED_SIZE), { key: p.vcekKey, dsaEncoding: 'ieee-p1363' });
  r.set(Uint8Array.from(sig.subarray(0, 48)).reverse(), SNP_SIGNED_SIZE);
  r.set(Uint8Array.from(sig.subarray(48, 96)).reverse(), SNP_SIGNED_SIZE + 72);
  return new Uint8Array(r);
}

/**
 * The certificate table the host of the simulated platform hands its guests (configfs-tsm `auxblob`).
 *
 * @example `splitSnpEvidence(concat(report, simSnpCertTable(snp))).certs.vcek`
 */
export function simSnpCertTable(p: SimSnpPlatform): Uint8Array {
  return encodeCertTable({ vcek: p.vcek.der, ask: p.ask.der, ark: p.ark.der });
}

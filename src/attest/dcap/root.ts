import { createHash } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { parseCertificate, type Certificate } from '../lib/x509.js';

/** SHA-256 of the DER of the Intel SGX Root CA certificate, the trust anchor of every DCAP quote. */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

/** CN=Intel SGX Root CA, O=Intel Corporation, valid 2018-05-21 .. 2049-12-31 (certificates.trustedservices.intel.com/IntelSGXRootCA.der). */
const INTEL_SGX_ROOT_CA_DER =
  'MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIwaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYTAlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi71OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOBuzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJMEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SVUr9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYIKoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwgAiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=';

let intel: Certificate | undefined;

/**
 * The pinned Intel SGX Root CA, checked against {@link INTEL_SGX_ROOT_CA_SHA256}.
 *
 * @example
 * ```ts
 * const verifier = new DcapVerifier(intelSgxRootCa());
 * ```
 */
export function intelSgxRootCa(): Certificate {
  if (!intel) {
    const der = new Uint8Array(Buffer.from(INTEL_SGX_ROOT_CA_DER, 'base64'));
    if (createHash('sha256').update(der).digest('hex') !== INTEL_SGX_ROOT_CA_SHA256)
      throw new Error('pinned Intel SGX Root CA is corrupt');
    intel = parseCertificate(der);
  }
  return intel;
}

/** True when `root` is the pinned Intel root. */
export function isIntelRoot(root: Certificate): boolean {
  return createHash('sha256').update(root.der).digest('hex') === INTEL_SGX_ROOT_CA_SHA256;
}

/** A trust root given by the user (`--trust-root`): one self-signed CA certificate. */
export function customRoot(der: Uint8Array): Certificate {
  const root = parseCertificate(der);
  if (!root.ca) throw new CloisterError('UNTRUSTED_ROOT', `trust root "${root.subjectCn}" is not a CA certificate`);
  return root;
}

/**
 * `@peculiar/x509`, loaded on first use: with its ASN.1 stack it costs about 0.2 s of CPU to
 * load, which every `cloister` command would pay at start-up although only certificate
 * generation (simulated platforms, the attestation service's key, importing a CA) needs it. It
 * needs the Reflect metadata API before it loads.
 *
 * @example `const { X509CertificateGenerator } = await peculiar();`
 */
export async function peculiar(): Promise<typeof import('@peculiar/x509')> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

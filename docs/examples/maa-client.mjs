// Attest an SGX quote with Microsoft's @azure/attestation SDK against a cloister attestation
// service (or Azure Attestation itself), validating the token safely. Run with the service's
// TLS root trusted:
//
//   NODE_EXTRA_CA_CERTS=DATA_DIR/tls-root.pem node maa-client.mjs https://host:8443 quote.bin [runtime-data-file]
//
// Prints the attestation result as JSON.
import { readFileSync } from 'node:fs';
import { AttestationClient } from '@azure/attestation';

const [endpoint, quoteFile, runtimeFile] = process.argv.slice(2);

// 1. The signers, fetched once over TLS from the instance's /certs (GET, no token involved).
const signers = await new AttestationClient(endpoint).getAttestationSigners();

// 2. The SDK alone accepts `alg: none` tokens and tokens whose header carries their own
//    certificate; and without validationOptions, or with some left out, it skips the checks.
//    So: every check on, the issuer pinned, and a callback that pins RS256 and the signer.
const validationOptions = {
  validateToken: true,
  validateExpirationTime: true,
  validateNotBeforeTime: true,
  validateIssuer: true,
  expectedIssuer: endpoint,
  validateAttestationToken: (token, signer) => {
    if (token.algorithm !== 'RS256') return [`token algorithm ${token.algorithm} is not RS256`];
    const trusted =
      signer !== undefined &&
      signers.some((s) => s.keyId === signer.keyId && s.certificates[0] === signer.certificates[0]);
    return trusted ? undefined : ["the token is not signed by a key of the instance's /certs"];
  },
};

const client = new AttestationClient(endpoint, { validationOptions });
const quote = readFileSync(quoteFile);
const { body, token } = await client.attestSgxEnclave(
  quote,
  runtimeFile ? { runTimeData: readFileSync(runtimeFile) } : {},
);

// 3. Then judge the claims (the service's policy already did; a relying party checks its own).
console.log(
  JSON.stringify({
    token: token.serialize(),
    kid: token.keyId,
    issuer: body.issuer,
    mrEnclave: body.mrEnclave,
    mrSigner: body.mrSigner,
    productId: body.productId,
    svn: body.svn,
    isDebuggable: body.isDebuggable,
    enclaveHeldData: body.enclaveHeldData && Buffer.from(body.enclaveHeldData).toString('hex'),
  }),
);

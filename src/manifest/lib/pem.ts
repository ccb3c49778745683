/** RFC 7468 block: its label, optional RFC 1421 headers, the base64 body. */
const PEM_BLOCK = /-----BEGIN ([^-\r\n]*)-----\r?\n((?:[A-Za-z-]+:[^\r\n]*\r?\n)*)(?:\r?\n)?([\s\S]*?)-----END \1-----/;

/**
 * The first PEM block of `text` as Go's `pem.Decode` finds it (MarbleRun reads user certificates
 * and recovery keys so): wherever it starts, whatever follows. `extra` says whether there is text
 * around it; undefined when there is no block or its body is not base64.
 *
 * @example
 * ```ts
 * firstPemBlock(pem)?.label;   // 'CERTIFICATE'
 * ```
 */
export function firstPemBlock(text: string): { label: string; der: Uint8Array; extra: boolean } | undefined {
  const block = PEM_BLOCK.exec(text);
  const body = block?.[3]?.replace(/[ \t\r\n]+/g, '') ?? '';
  if (!block || !/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) return undefined;
  return {
    label: block[1] ?? '',
    der: new Uint8Array(Buffer.from(body, 'base64')),
    extra: text.slice(0, block.index).trim() !== '' || text.slice(block.index + block[0].length).trim() !== '',
  };
}

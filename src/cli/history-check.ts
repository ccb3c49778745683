import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { decodeHead, decodeHistory, verifyHistory, type HistoryEntry } from '../coordinator/history.js';

/** The client's reading of a coordinator's history (coordinator/history.ts), shared by `history` and `manifest verify`. */

/** The history a coordinator presents, checked against the root pinned for it. */
export async function verifiedHistory(
  rootPem: string,
  fetch: () => Promise<{ json(): unknown }>,
): Promise<{ entries: HistoryEntry[]; root: Uint8Array }> {
  const [root] = pemCertificates(rootPem, 'root');
  if (!root) throw new CloisterError('USAGE', 'the pinned root holds no certificate');
  const answer = new JsonReader('HISTORY_INVALID', 'history').object((await fetch()).json());
  const entries = decodeHistory(answer['entries']);
  verifyHistory(entries, decodeHead(answer['head']), root);
  return { entries, root };
}

/** The entry that set the manifest with this fingerprint (the last one that did). */
export function settingEntry(entries: readonly HistoryEntry[], fingerprint: string): HistoryEntry | undefined {
  const setting = ['manifest-set', 'update-applied', 'security-versions-updated'];
  return [...entries].reverse().find((e) => e.manifest === fingerprint && setting.includes(e.kind));
}

const when = (e: HistoryEntry) => new Date(e.time * 1000).toISOString();
export const describeEntry = (e: HistoryEntry): string =>
  `#${e.seq} ${when(e)} ${e.kind}${e.by.length > 0 ? ` by ${e.by.join(', ')}` : ''}${e.manifest ? ` manifest ${e.manifest}` : ''}${Object.keys(e.details).length > 0 ? ` ${JSON.stringify(e.details)}` : ''}`;

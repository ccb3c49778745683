import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { CloisterError } from '../lib/errors.js';

/**
 * The environment MarbleRun's premain reads (`marble/config`), so that a Marble's deployment
 * works unchanged under `cloister run`: cloister's own names first, MarbleRun's after them.
 *
 * | MarbleRun                     | cloister               | meaning                                  |
 * | ----------------------------- | ---------------------- | ---------------------------------------- |
 * | `EDG_MARBLE_TYPE`             | `CLOISTER_SERVICE`     | the Marble (service) of the manifest      |
 * | `EDG_MARBLE_COORDINATOR_ADDR` | `CLOISTER_COORDINATOR` | the coordinator's mesh address            |
 * | `EDG_MARBLE_DNS_NAMES`        | `CLOISTER_DNS_NAMES`   | comma-separated names for the certificate |
 * | `EDG_MARBLE_UUID_FILE`        | `CLOISTER_INSTANCE_ID` | the instance's stable id (a file holding it) |
 */
export interface MarbleEnvironment {
  service: string | undefined;
  coordinator: string | undefined;
  dnsNames: string[];
  /** A file holding the instance's UUID, created when missing. */
  uuidFile: string | undefined;
  instanceId: string | undefined;
}

const first = (env: NodeJS.ProcessEnv, ...names: string[]) =>
  names.map((name) => env[name]).find((value) => value !== undefined && value !== '');

/**
 * What the environment says about this Marble.
 *
 * @example
 * ```ts
 * marbleEnvironment({ EDG_MARBLE_TYPE: 'backend', EDG_MARBLE_DNS_NAMES: 'backend,localhost' }).dnsNames; // ['backend', 'localhost']
 * ```
 */
export function marbleEnvironment(env: NodeJS.ProcessEnv): MarbleEnvironment {
  return {
    service: first(env, 'CLOISTER_SERVICE', 'EDG_MARBLE_TYPE'),
    coordinator: first(env, 'CLOISTER_COORDINATOR', 'EDG_MARBLE_COORDINATOR_ADDR'),
    dnsNames: (first(env, 'CLOISTER_DNS_NAMES', 'EDG_MARBLE_DNS_NAMES') ?? '').split(',').filter(Boolean),
    uuidFile: first(env, 'EDG_MARBLE_UUID_FILE'),
    instanceId: first(env, 'CLOISTER_INSTANCE_ID'),
  };
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * MarbleRun's premain `getUUID`: the UUID in `file`, or a new one written there (mode 0600)
 * when the file does not exist, so a restarted instance keeps its identity (and its unique
 * secrets). A file that holds no UUID is an error, as in MarbleRun.
 *
 * @example
 * ```ts
 * const instanceId = instanceIdFromFile('/data/uuid');
 * ```
 */
export function instanceIdFromFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new CloisterError('IO', `$EDG_MARBLE_UUID_FILE ${file}: ${(error as Error).message}`, { cause: error });
    const id = randomUUID();
    writeFileSync(file, id, { mode: 0o600, flag: 'wx' });
    return id;
  }
  const id = text.trim();
  if (!UUID.test(id))
    throw new CloisterError('IO', `$EDG_MARBLE_UUID_FILE ${file}: does not hold a UUID`, { path: file });
  return id.toLowerCase();
}

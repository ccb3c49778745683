import { CloisterError } from '../../lib/errors.js';
import { equal, isZero } from '../../lib/bytes.js';
import type { TcbStatus } from '../tcb-status.js';
import type { IsvSvnLevel, QeIdentity, TcbComponentsLevel, TcbInfo, TdxModuleIdentity } from './collateral.js';
import type { PckExtensions } from './pck.js';
import type { SgxReportBody, TdReportBody } from './quote.js';

/**
 * TCB evaluation as Intel's QVL does it (QVL TcbLevelCheck.cpp, TdxModuleCheck.cpp,
 * TDRelaunchCheck.cpp, EnclaveReportVerifier.cpp; DCAP 1.21 / confidential-computing.tee.dcap.qvl).
 */

/** TCB levels in the QVL's order: descending by SGX component SVNs, then PCESVN, then TDX components (QVL TcbLevel::operator>). */
export function sortedLevels(info: TcbInfo): TcbComponentsLevel[] {
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (b[i] as number) - (a[i] as number);
    return 0;
  };
  const sorted = [...info.tcbLevels].sort(
    (a, b) =>
      cmp(a.sgxComponents, b.sgxComponents) ||
      b.pceSvn - a.pceSvn ||
      (info.id === 'TDX' ? cmp(a.tdxComponents ?? [], b.tdxComponents ?? []) : 0),
  );
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as TcbComponentsLevel;
    const b = sorted[i] as TcbComponentsLevel;
    if (
      !cmp(a.sgxComponents, b.sgxComponents) &&
      a.pceSvn === b.pceSvn &&
      (info.id !== 'TDX' || !cmp(a.tdxComponents ?? [], b.tdxComponents ?? []))
    ) {
      throw new CloisterError('COLLATERAL_MALFORMED', 'tcbInfo.tcbLevels: duplicated TCB levels', {
        path: 'tcbInfo.tcbLevels',
      });
    }
  }
  return sorted;
}

function sgxLevelMatches(level: TcbComponentsLevel, pck: PckExtensions): boolean {
  return level.sgxComponents.every((svn, i) => (pck.tcbComponents[i] as number) >= svn) && pck.pceSvn >= level.pceSvn;
}

/** TEE_TCB_SVN vs tdxtcbcomponents; when byte 1 (module major version) is non-zero, bytes 0 and 1 are judged by the module identity instead. */
function tdxLevelMatches(level: TcbComponentsLevel, teeTcbSvn: Uint8Array): boolean {
  const start = (teeTcbSvn[1] as number) > 0 ? 2 : 0;
  const comps = level.tdxComponents ?? [];
  for (let i = start; i < 16; i++) if ((teeTcbSvn[i] as number) < (comps[i] as number)) return false;
  return true;
}

function firstIsvSvnLevel(levels: readonly IsvSvnLevel[], isvSvn: number): IsvSvnLevel | undefined {
  return [...levels].sort((a, b) => b.isvSvn - a.isvSvn).find((l) => l.isvSvn <= isvSvn);
}

/** QE identity (enclave identity v2) against the QE report (QVL EnclaveReportVerifier::verify). */
export function evaluateQe(identity: QeIdentity, qe: SgxReportBody, tee: 'sgx' | 'tdx'): IsvSvnLevel {
  const mismatch = (what: string) =>
    new CloisterError('QE_IDENTITY_MISMATCH', `QE report ${what} does not match the QE identity "${identity.id}"`, {
      field: `qeReport.${what}`,
    });
  if (identity.id !== (tee === 'tdx' ? 'TD_QE' : 'QE')) {
    throw new CloisterError(
      'COLLATERAL_MISMATCH',
      `qeIdentity.id: "${identity.id}" is not the identity of a ${tee === 'tdx' ? 'TD_QE' : 'QE'} for a ${tee} quote`,
      { path: 'qeIdentity.id' },
    );
  }
  if ((qe.miscSelect & identity.miscSelectMask) >>> 0 !== identity.miscSelect) throw mismatch('miscSelect');
  for (let i = 0; i < 16; i++)
    if (((qe.attributes[i] as number) & (identity.attributesMask[i] as number)) !== identity.attributes[i])
      throw mismatch('attributes');
  if (!equal(qe.mrSigner, identity.mrSigner)) throw mismatch('mrSigner');
  if (qe.isvProdId !== identity.isvProdId) throw mismatch('isvProdId');
  const level = firstIsvSvnLevel(identity.tcbLevels, qe.isvSvn);
  if (!level)
    throw new CloisterError('TCB_NOT_SUPPORTED', `QE ISVSVN ${qe.isvSvn} is below every level of the QE identity`, {
      field: 'qeReport.isvSvn',
    });
  return level;
}

function moduleIdentity(info: TcbInfo, major: number): TdxModuleIdentity {
  const id = `TDX_${major.toString(16).toUpperCase().padStart(2, '0')}`;
  const found = info.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
  if (!found)
    throw new CloisterError('TDX_MODULE_MISMATCH', `tcbInfo has no TDX module identity "${id}"`, {
      path: 'tcbInfo.tdxModuleIdentities',
    });
  return found;
}

/** The TDX module's signer and attributes (QVL QuoteVerifier::verify, TDX module identity step). */
export function checkTdxModule(info: TcbInfo, td: TdReportBody): void {
  if (!info.tdxModule)
    throw new CloisterError('COLLATERAL_MALFORMED', 'tcbInfo.tdxModule: required for TDX', {
      path: 'tcbInfo.tdxModule',
    });
  const major = td.teeTcbSvn[1] as number;
  const expected = major > 0 ? moduleIdentity(info, major) : info.tdxModule;
  if (!equal(td.mrSignerSeam, expected.mrSigner))
    throw new CloisterError('TDX_MODULE_MISMATCH', 'MRSIGNERSEAM does not match the TDX module identity', {
      field: 'body.mrSignerSeam',
    });
  // As the QVL: SEAMATTRIBUTES must be zero and equal to the identity's attributes (the mask is not applied).
  if (!isZero(td.seamAttributes) || !equal(td.seamAttributes, expected.attributes)) {
    throw new CloisterError('TDX_MODULE_MISMATCH', 'SEAMATTRIBUTES do not match the TDX module identity', {
      field: 'body.seamAttributes',
    });
  }
}

const MODULE_STATUSES: readonly TcbStatus[] = ['UpToDate', 'OutOfDate', 'Revoked'];

function moduleLevel(info: TcbInfo, teeTcbSvn: Uint8Array): IsvSvnLevel | undefined {
  const major = teeTcbSvn[1] as number;
  if (major === 0) return undefined;
  const level = firstIsvSvnLevel(moduleIdentity(info, major).tcbLevels, teeTcbSvn[0] as number);
  if (!level)
    throw new CloisterError(
      'TCB_NOT_SUPPORTED',
      `TDX module SVN ${teeTcbSvn[0]} is below every level of TDX module identity ${major}`,
      { field: 'body.teeTcbSvn' },
    );
  if (!MODULE_STATUSES.includes(level.status))
    throw new CloisterError('COLLATERAL_MALFORMED', `TDX module TCB level status "${level.status}" is not recognised`, {
      path: 'tcbInfo.tdxModuleIdentities',
    });
  return level;
}

/** QVL convergeTcbStatusWithQeTcbStatus / convergeTcbStatusWithTdxModuleStatus: an out-of-date or revoked component lowers the platform status. */
export function converge(platform: TcbStatus, component: TcbStatus): TcbStatus {
  if (component === 'Revoked') return 'Revoked';
  if (component !== 'OutOfDate') return platform;
  if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
  if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded')
    return 'OutOfDateConfigurationNeeded';
  return platform;
}

const CONFIGURATION_NEEDED: readonly TcbStatus[] = [
  'ConfigurationNeeded',
  'OutOfDateConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'TDRelaunchAdvisedConfigurationNeeded',
];
const CURRENT: readonly TcbStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
];

/** QVL TDRelaunchCheck::checkForRelaunch (TD 1.5 bodies): an out-of-date TD whose platform was since updated should be relaunched. */
function relaunch(
  info: TcbInfo,
  levels: TcbComponentsLevel[],
  svn2: Uint8Array,
  sgxStatus: TcbStatus,
  tdxStatus: TcbStatus,
  moduleStatus: TcbStatus | undefined,
): TcbStatus {
  if (
    !CURRENT.includes(sgxStatus) ||
    (tdxStatus !== 'OutOfDate' && tdxStatus !== 'OutOfDateConfigurationNeeded') ||
    moduleStatus !== 'OutOfDate'
  )
    return tdxStatus;
  const latest = (levels[0] as TcbComponentsLevel).tdxComponents ?? [];
  const moduleOk =
    svn2[1] === 0
      ? (svn2[0] as number) >= (latest[0] as number)
      : (svn2[0] as number) >= Math.max(...moduleIdentity(info, svn2[1] as number).tcbLevels.map((l) => l.isvSvn));
  if (!moduleOk || (svn2[2] as number) < (latest[2] as number)) return tdxStatus;
  return CONFIGURATION_NEEDED.includes(sgxStatus) || CONFIGURATION_NEEDED.includes(tdxStatus)
    ? 'TDRelaunchAdvisedConfigurationNeeded'
    : 'TDRelaunchAdvised';
}

export interface TcbEvaluation {
  status: TcbStatus;
  platformStatus: TcbStatus;
  qeStatus: TcbStatus;
  tdxModuleStatus: TcbStatus | undefined;
  advisoryIds: string[];
  tcbDate: string;
}

/**
 * Matches the platform against the TCB info and combines platform, TDX module and QE statuses
 * exactly as the QVL (QVL TcbLevelCheck::checkTcbLevel). Throws TCB_NOT_SUPPORTED when no level matches.
 *
 * @example
 * ```ts
 * const { status, advisoryIds } = evaluateTcb(tcbInfo, pckExtensions(pck), qeLevel, quote.body);
 * ```
 */
export function evaluateTcb(
  info: TcbInfo,
  pck: PckExtensions,
  qe: IsvSvnLevel,
  td: TdReportBody | undefined,
): TcbEvaluation {
  const levels = sortedLevels(info);
  const sgxLevel = levels.find((l) => sgxLevelMatches(l, pck));
  if (!sgxLevel)
    throw new CloisterError(
      'TCB_NOT_SUPPORTED',
      "no TCB level of the TCB info matches the PCK certificate's SGX TCB components and PCESVN",
      { field: 'tcbInfo.tcbLevels' },
    );
  let platform = sgxLevel;
  let module: IsvSvnLevel | undefined;
  let status: TcbStatus;
  if (td) {
    const tdxLevel = levels.find((l) => sgxLevelMatches(l, pck) && tdxLevelMatches(l, td.teeTcbSvn));
    if (!tdxLevel)
      throw new CloisterError('TCB_NOT_SUPPORTED', "no TCB level of the TCB info matches the TD's TEE_TCB_SVN", {
        field: 'body.teeTcbSvn',
      });
    platform = tdxLevel;
    module = moduleLevel(info, td.teeTcbSvn);
    status = converge(tdxLevel.status, module?.status ?? 'UpToDate');
    // The relaunch check runs only while the QE is current (QVL checkForRelaunch's QE condition).
    if (status !== 'Revoked' && td.teeTcbSvn2 && qe.status === 'UpToDate')
      status = relaunch(info, levels, td.teeTcbSvn2, sgxLevel.status, status, module?.status);
  } else {
    status = platform.status;
  }
  status = converge(status, qe.status);
  const used = [platform, qe, ...(module ? [module] : [])];
  return {
    status,
    platformStatus: platform.status,
    qeStatus: qe.status,
    tdxModuleStatus: module?.status,
    advisoryIds: [...new Set(used.flatMap((l) => l.advisoryIds))].sort(),
    tcbDate: used.map((l) => l.tcbDate).sort()[0] as string,
  };
}

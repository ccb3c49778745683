/**
 * TCB statuses: the values Intel's TCB info and QE identity carry (Intel PCS API v4, TCB Info
 * and Enclave Identity schemas) plus the TD-relaunch results of Intel's QVL. One table, consulted
 * by parsers, verifiers, policy and the CLI.
 */
export const TCB_STATUS = {
  UpToDate: { collateral: true },
  SWHardeningNeeded: { collateral: true },
  ConfigurationNeeded: { collateral: true },
  ConfigurationAndSWHardeningNeeded: { collateral: true },
  OutOfDate: { collateral: true },
  OutOfDateConfigurationNeeded: { collateral: true },
  Revoked: { collateral: true },
  TDRelaunchAdvised: { collateral: false },
  TDRelaunchAdvisedConfigurationNeeded: { collateral: false },
} as const;

export type TcbStatus = keyof typeof TCB_STATUS;

/** Statuses that may appear in TCB info and QE identity documents. */
export const COLLATERAL_TCB_STATUSES = (Object.keys(TCB_STATUS) as TcbStatus[]).filter((s) => TCB_STATUS[s].collateral);

/** The statuses a default policy accepts: the platform is genuine and fully patched. */
export const DEFAULT_ACCEPTED_STATUSES: readonly TcbStatus[] = ['UpToDate'];

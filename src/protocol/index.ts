/**
 * The activation and volume protocol between workloads and the coordinator: message types, their
 * JSON codecs with full validation, the report-data binding and the sealing of the activation
 * payload to the workload's attested key. Both sides import this; neither imports the other.
 */
export { bindingReportData } from './report-data.js';
export { openPayload, openSealed, sealPayload, sealTo, workloadKey, type SealedPayload } from './seal.js';
export {
  decodeActivationRequest,
  decodeActivationResponse,
  decodeCommit,
  decodeFileRecords,
  decodeGrant,
  decodeNonce,
  decodePayload,
  decodeRegistration,
  decodeSecret,
  decodeSecrets,
  encodeActivationRequest,
  encodeActivationResponse,
  encodeGrant,
  encodePayload,
  encodeSecret,
  encodeSecrets,
  type ActivationPayload,
  type ActivationRequest,
  type ActivationResponse,
  type FileChange,
  type FileRecord,
  type VolumeGrant,
} from './messages.js';

/** Evidence providers: the TEE interfaces of the machine cloister runs on, and the simulated platform. */
export { EVIDENCE_KINDS, type EvidenceKind, type EvidenceProvider } from './provider.js';
export { TSM_ROOT, TSM_PROVIDERS, tsmProvider, tsmReport, tsmKind, type TsmOptions, type TsmReport } from './tsm.js';
export { DEV_ATTESTATION, devAttestationProvider, attestationType } from './dev-attestation.js';
export { simEvidence, SIM_MRSIGNER, type SimEvidence } from './sim.js';
export { TEE_CHOICES, selectProvider, type TeeChoice, type SelectOptions, type Selected } from './select.js';

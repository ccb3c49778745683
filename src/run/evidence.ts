/** Moved to src/evidence/ (the providers' own edge folder); kept for the imports of branches in flight. */
export { simEvidence, SIM_MRSIGNER, type SimEvidence as EvidenceSource } from '../evidence/sim.js';

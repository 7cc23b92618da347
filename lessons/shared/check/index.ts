// The exercise check harness: what an `exercise.check.ts` and the commands
// import. README.md in this folder documents the API on one page.
export { CHECK_DEADLINE, CheckFailure, HOST, LOAD_TIMEOUT, STEP_TIMEOUT, defineCheck, fail } from './results.ts';
export type { CheckDefinition, CheckResult, FailureDetails, RunOptions, Step, StepOptions, StepResult } from './results.ts';
export type { Check } from './context.ts';
export { MAX_KEPT, Recorder, Signal, type RecordOptions } from './recorder.ts';
export { formatAddress, formatBytes, isThenable, show } from './format.ts';
export { chunkings, median, piecesOf, seededRandom, splitRandomly, writePieces, type Chunking } from './framing.ts';
export { runCheck } from './run.ts';
export { CheckPool, CheckWorker, runIsolated, type IsolatedOptions } from './isolated.ts';
export { Follow, describeReason, handedOver, readBy, turn, type Outcome } from './follow.ts';
export { LearnerTimers, type LearnerTimer } from './timers.ts';
export { refusedPort, unboundUdpPort } from '../ports.ts';

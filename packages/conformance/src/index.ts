export type {
  ConformanceAdapter,
  ConformanceCase,
  ConformanceTensor,
  OpsHarness,
  SigmoidConformanceCase,
} from './adapter.js';
export {
  featureCases,
  largeVocabularyCases,
  marginRow,
  type NamedCase,
  type NamedSigmoidCase,
  normal,
  optionGridCases,
  probabilityRow,
  regionCases,
  roundTo,
  seededRandom,
  sigmoidCases,
} from './cases.js';
export {
  type AllCloseMatchers,
  assertAllClose,
  type Tolerance,
  toBeAllClose,
  tolerancesFor,
} from './close.js';
export { describeConformance } from './describe-conformance.js';
export {
  type ReferenceResult,
  referenceEncouragingLoss,
  referenceFiniteDifferences,
  referenceSigmoidEncouragingLoss,
} from './reference.js';

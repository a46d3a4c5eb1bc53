/**
 * gradcond's public API. Importing it changes nothing in tfjs: call `useBackend` first. Reports
 * (vega) and sweeps (bullmq) are separate entry points, `gradcond/report` and `gradcond/queue`,
 * so that training code does not load them.
 */
// Backend
export { BACKEND_CHOICES, type BackendChoice, defaultThreads, useBackend } from './backend/backend.js';
export { installOverrides, removeOverrides } from './backend/overrides.js';

// The drop-in optimizer and its streams
export { type ConditionedOptions, ConditionedOptimizer, PRESETS, conditioned } from './optimizer/conditioned.js';
export { getLearningRate, setLearningRate } from './optimizer/learningRate.js';
export { OPTIMIZERS, OPTIMIZER_NAMES, type OptimizerName } from './optimizer/optimizers.js';
export type { EpochEvent, LifecycleEvent, MetricSample, PolicyDecision, StepEvent } from './stream/types.js';
export * as operators from './stream/operators.js';

// Metrics and the engine
export {
  GROUPS, METRICS, METRIC_NAMES, type MetricName, SAMPLE_GROUPS, SAMPLED_GROUPS, type SampleGroup, type SampledGroup, getMetric,
} from './metrics/registry.js';
export type { MetricValue } from './metrics/result.js';
export { expectedStableRank } from './metrics/expectedStableRank.js';
export { type Measurement, measureBatch } from './engine/measure.js';
export { type PerExamplePass, gram, materialize, meanGradient, perExamplePass } from './engine/perExample.js';
export { LOSS_NAMES, perExampleLoss } from './engine/losses.js';
export { createMask } from './engine/mask.js';
export { PROBE_METRICS, type ProbeOptions, type ProbeResult, probe, readProbeData } from './probe.js';

// Policies
export {
  type Knobs, type Policy, type PolicyContext, type PolicyInput, type PolicyUpdate, type Progress, type RegisteredPolicy,
  composePolicies, definePolicy, initialUpdate, isEpochInput, isMetricInput, isStepInput, policyProgress, policyStage, policySteps, progressOf,
} from './policy.js';
export { POLICIES, POLICY_NAMES, describePolicies, getPolicy, parsePolicyOptions, resolvePolicy, withRunLength } from '../policies/index.js';

// Data and models
export { type LoadedData, loadData } from './data/registry.js';
export { DATA_NAMES, DataSpecSchema, parseDataSpec, specFromFlags } from './data/spec.js';
export { type Dataset, batchTensors } from './data/dataset.js';
export { dynamicBatches } from './data/dynamicBatches.js';
export { CReLU, MODELS, MODEL_NAMES, ModelOptionsSchema, ZOO, buildModel, describeModels } from './models/zoo.js';
export { loadModel, saveModel } from './models/io.js';

// Training, traces, comparisons
export { type TrainOptions, type TrainResult, TrainingDiverged, evaluate, train } from './trainer/train.js';
export { HEALTH_RULES } from './trainer/health.js';
export {
  type RunSummary, createRun, formatSummary, openRecorder, readManifest, readTrace, summarize, traceView,
} from './trace/index.js';
export { type CompareSpec, parseCompareSpec } from './compare/compareSpec.js';
export { compare } from './compare/compare.js';
export { type RunSpec, parseRunSpec } from './compare/runSpec.js';
export { executeRun } from './compare/executeRun.js';

// Fitness and zero-cost proxies
export { PROXIES, PROXY_NAMES, type ProxyName, type ProxyOptions, computeProxies, computeProxy } from './fitness/proxies/index.js';

// Logging and errors
export { createLogger, logger, setLogger } from './log.js';
export { NonFiniteStep, UnsupportedError, UsageError } from './errors.js';

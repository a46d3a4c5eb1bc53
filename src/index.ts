/** gradcond's public API. */
export { BACKEND_CHOICES, type BackendChoice, useBackend } from './backend/backend.js';
export { installOverrides, removeOverrides } from './backend/overrides.js';
export { type ConditionedOptions, ConditionedOptimizer, PRESETS, conditioned } from './optimizer/conditioned.js';
export { getLearningRate, setLearningRate } from './optimizer/learningRate.js';
export type { LifecycleEvent, MetricSample, StepEvent } from './stream/types.js';
export * as operators from './stream/operators.js';
export { METRICS, METRIC_NAMES, type MetricName, SAMPLE_GROUPS, type SampleGroup, getMetric } from './metrics/registry.js';
export type { MetricValue } from './metrics/result.js';
export { type Measurement, measureBatch } from './engine/measure.js';
export { type PerExamplePass, gram, materialize, meanGradient, perExamplePass } from './engine/perExample.js';
export { LOSS_NAMES, perExampleLoss } from './engine/losses.js';
export { createMask } from './engine/mask.js';
export { type ProbeOptions, type ProbeResult, probe, readProbeData } from './probe.js';
export { loadModel, saveModel } from './models/io.js';
export { createRun, readTrace } from './trace/index.js';
export { createLogger, logger, setLogger } from './log.js';
export { UnsupportedError, UsageError } from './errors.js';

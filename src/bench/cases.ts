/**
 * The rows `gradcond bench` runs for every (backend, model, batch), in order. A module that adds
 * rows exports a `BenchCase` and gets one line here.
 */
import type { BenchCase } from './bench.js';
import { metricGroupCase, perExampleEngineCase } from './metricCases.js';
import { wrapperStepCase } from './wrapperCase.js';

export const BENCH_CASES: BenchCase[] = [
  wrapperStepCase,
  metricGroupCase,
  perExampleEngineCase,
  // ---- register further per-(backend, model) cases here, one line each, e.g. -----------------
  // threadsCase(),   // from './threadsCase.js': a wasm step with 1 thread and with several
];

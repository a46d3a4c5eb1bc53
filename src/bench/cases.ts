/**
 * The rows `gradcond bench` runs for every (backend, model, batch), in order. A module that adds
 * rows exports a `BenchCase` and gets one line here.
 */
import type { BenchCase } from './bench.js';
import { metricGroupCase, perExampleEngineCase } from './metricCases.js';
import { threadsCase } from './threadsCase.js';
import { wrapperStepCase } from './wrapperCase.js';

export const BENCH_CASES: BenchCase[] = [
  wrapperStepCase,
  metricGroupCase,
  perExampleEngineCase,
  threadsCase(),
];

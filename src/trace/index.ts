/** Run directories: manifest + JSON Lines trace, the recorder that writes them, run summaries. */
export * from './dirs.js';
export * from './format.js';
export * from './writer.js';
export * from './reader.js';
export * from './openRun.js';
export * from './recorder.js';
export * from './summary.js';

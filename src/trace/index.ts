/** Run directories: manifest + JSON Lines trace. */
export * from './format.js';
export * from './writer.js';
export * from './reader.js';

/**
 * The one door to TensorFlow.js. Every module imports `tf` from here, so that the backend is
 * chosen once (`useBackend`) and gradcond's kernel overrides are installed with it.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };

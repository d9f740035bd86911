// Per test file: jest runs tests in a separate realm whose typed-array classes differ from the process's.
// onnxruntime-node builds its outputs in the process realm and onnxruntime-common checks them with instanceof
// against the realm that loaded it, so the sandbox takes the process's typed arrays before anything loads.
import { runInThisContext } from 'node:vm';

Object.assign(
  globalThis,
  runInThisContext(
    '({ Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Uint8Array, Uint8ClampedArray, Uint16Array, Uint32Array, BigInt64Array, BigUint64Array })',
  ),
);

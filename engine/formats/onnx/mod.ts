/**
 * ONNX import: `decodeOnnx` turns model bytes into the engine IR.
 *
 * @module
 */
export { decodeOnnx, float16ToFloat32 } from "./decode.ts";
export type { DecodeOnnxOptions, ExternalDataLoader } from "./decode.ts";

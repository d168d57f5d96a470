/**
 * ONNX import: `decodeOnnx` turns model bytes into the engine IR.
 *
 * @module
 */
export { decodeOnnx } from "./decode.ts";
export { float16ToFloat32 } from "../float16.ts";
export type { DecodeOnnxOptions, ExternalDataLoader } from "./decode.ts";

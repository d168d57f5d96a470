/**
 * NumPy `.npy` files (format versions 1–3), for CLI inputs and outputs.
 *
 * @module
 */
import { ModelFormatError } from "../errors.ts";
import { arrayTypeOf, checkDims, type DType, Tensor } from "../tensor.ts";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const DESCR: Record<string, DType> = {
  "<f4": "float32",
  "<f2": "float16",
  "<i8": "int64",
  "<i4": "int32",
  "|i1": "int8",
  "|u1": "uint8",
  "|b1": "bool",
};

const DESCR_OF: Record<DType, string> = {
  float32: "<f4",
  float16: "<f2",
  int64: "<i8",
  int32: "<i4",
  int8: "|i1",
  uint8: "|u1",
  bool: "|b1",
};

function truncated(have: number, want: number): string {
  return `the data is truncated: the file ends after ${have} of ${want} bytes; check the file ` +
    `is complete`;
}

/** Reads a `.npy` file's bytes into a tensor; `name` labels errors. float64 becomes float32. */
export function decodeNpy(bytes: Uint8Array, name = "array"): Tensor {
  const fail = (why: string) => new ModelFormatError(`Cannot read NPY "${name}": ${why}`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw fail("not an .npy file");
  const major = bytes[6];
  if (major < 1 || major > 3) throw fail(`unknown format version ${major}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) {
    throw fail(
      `the header is truncated: the file ends after ${bytes.length} of ${start + headerLen} ` +
        `header bytes; check the file is complete`,
    );
  }
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = header.match(/'descr'\s*:\s*'([^']+)'/)?.[1];
  const fortran = header.match(/'fortran_order'\s*:\s*(True|False)/)?.[1];
  const shapeText = header.match(/'shape'\s*:\s*\(([^)]*)\)/)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw fail("malformed header");
  if (fortran === "True") {
    throw fail("Fortran-ordered arrays are not supported: save np.ascontiguousarray(a) instead");
  }
  const dims = shapeText.split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  const size = checkDims(dims, `NPY "${name}"`);
  const dataStart = start + headerLen;
  if (descr === "<f8") {
    if (dataStart + size * 8 > bytes.length) {
      throw fail(truncated(bytes.length, dataStart + size * 8));
    }
    const f64 = new Float64Array(bytes.slice(dataStart, dataStart + size * 8).buffer);
    return new Tensor("float32", Float32Array.from(f64), dims);
  }
  const type = DESCR[descr];
  if (!type) {
    throw fail(
      `dtype "${descr}" is not supported: save the array as float32, float64, float16, int64, ` +
        `int32, int8, uint8 or bool (little-endian)`,
    );
  }
  const Ctor = arrayTypeOf(type);
  const n = size * Ctor.BYTES_PER_ELEMENT;
  if (dataStart + n > bytes.length) throw fail(truncated(bytes.length, dataStart + n));
  const data = new Ctor(bytes.slice(dataStart, dataStart + n).buffer);
  return new Tensor(type, data as Tensor["data"], dims);
}

/** Writes a tensor as a version 1.0 `.npy` file. */
export function encodeNpy(t: Tensor): Uint8Array {
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(", ")})`;
  let header = `{'descr': '${DESCR_OF[t.type]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so the data starts on a 64-byte boundary, ending with a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const head = new TextEncoder().encode(header);
  const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(10 + head.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(data, 10 + head.length);
  return out;
}

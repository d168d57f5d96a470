/**
 * safetensors: an 8-byte little-endian header length, a JSON header mapping tensor names to
 * dtype, shape and byte range, then the data. Everything is validated before any tensor is
 * built: the header fits the file, ranges are in bounds, consistent with dtype × shape, and
 * do not overlap. F32, F16 and BF16 become float32.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { MAX_ELEMENTS, Tensor } from "../../tensor.ts";
import { float16ToFloat32 } from "../float16.ts";
import { markFloat16Origin } from "../../weights/f16_gemv.ts";

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
/** Headers larger than this are refused (real ones are a few hundred KB). */
const MAX_HEADER = 100 * 2 ** 20;

/**
 * Parses safetensors bytes; `file` names the file in errors. Each tensor gets its own copy of
 * its data, unless `views`: then aligned F32 tensors are views of `bytes` (no copy: the caller
 * hands over the bytes, which stay alive while any such tensor does).
 */
export function parseSafetensors(
  bytes: Uint8Array,
  file = "model.safetensors",
  { views = false }: { views?: boolean } = {},
): Map<string, Tensor> {
  const fail = (why: string) => new ModelFormatError(`Cannot read "${file}": ${why}`);
  if (bytes.length < 8) throw fail("the file is shorter than its 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getBigUint64(0, true);
  if (len > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    throw fail(
      len > BigInt(bytes.length - 8)
        ? `the header claims ${len} bytes, the file has ${bytes.length - 8} after the length; ` +
          `check the file is complete`
        : `the header claims ${len} bytes, more than the ${MAX_HEADER} allowed`,
    );
  }
  const headerEnd = 8 + Number(len);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, headerEnd)),
    );
  } catch (cause) {
    throw new ModelFormatError(`Cannot read "${file}": the header is not valid JSON`, { cause });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw fail("the header is not a JSON object");
  }
  const dataLength = bytes.length - headerEnd;
  const ranges: [number, number, string][] = [];
  const out = new Map<string, Tensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const what = `tensor "${name}"`;
    if (typeof e !== "object" || e === null) throw fail(`${what} has no description`);
    const size = BYTES[e.dtype as string];
    if (!size) throw fail(`${what} has dtype "${e.dtype}", not one of F32, F16, BF16`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw fail(`${what} has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const dims = e.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > MAX_ELEMENTS) throw fail(`${what} declares ${n} elements`);
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((v) => Number.isSafeInteger(v)) ||
      off[0] < 0 || off[1] < off[0]
    ) {
      throw fail(`${what} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLength) {
      throw fail(
        `${what} ends at byte ${end}, past the ${dataLength} data bytes; check the file is complete`,
      );
    }
    if (end - begin !== n * size) {
      throw fail(`${what} has ${end - begin} bytes, its ${e.dtype} [${dims}] needs ${n * size}`);
    }
    ranges.push([begin, end, name]);
    const at = bytes.byteOffset + headerEnd + begin;
    let data: Float32Array;
    if (views && e.dtype === "F32" && at % 4 === 0) {
      data = new Float32Array(bytes.buffer, at, n);
      out.set(name, new Tensor("float32", data, dims));
      continue;
    }
    const raw = bytes.slice(headerEnd + begin, headerEnd + end);
    if (e.dtype === "F32") data = new Float32Array(raw.buffer);
    else if (e.dtype === "F16") data = float16ToFloat32(new Uint16Array(raw.buffer));
    else {
      const bits = new Uint16Array(raw.buffer);
      const u = new Uint32Array(n);
      for (let i = 0; i < n; i++) u[i] = bits[i] << 16;
      data = new Float32Array(u.buffer);
    }
    const t = new Tensor("float32", data, dims);
    // F16 weights may stay halves in the arena for memory-bound GEMVs (gemvWeights "auto").
    out.set(name, e.dtype === "F16" ? markFloat16Origin(t) : t);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) {
      throw fail(`tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
    }
  }
  return out;
}

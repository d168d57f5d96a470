/**
 * TensorFlow.js layers models (`model.json` + weight shards) → the engine IR, so TF.js models
 * share the ONNX path's passes, planner and kernels. Keras works channels-last; the IR is
 * NCHW, so each image input gets one Transpose in and each output one Transpose out, and
 * kernels and axes are converted at import.
 *
 * @module
 */
import { ModelFormatError, type UnsupportedNode, UnsupportedOpError } from "../../errors.ts";
import type { AttributeValue, Graph, Model, Node, ValueInfo } from "../../ir/graph.ts";
import { Tensor } from "../../tensor.ts";
import { float16ToFloat32 } from "../float16.ts";
import { checkBesideName, readSource, siblingSource } from "../read_source.ts";

/** Reads a weight shard named in the manifest (a path relative to model.json). */
export type ShardReader = (path: string) => Promise<Uint8Array>;

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

// Structure checks of model.json: each names where in the file the bad value is.

function invalid(where: string, what: string): ModelFormatError {
  return new ModelFormatError(`TF.js model.json: ${where} ${what}`);
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw invalid(where, "is not an object");
  }
  return v as Record<string, unknown>;
}

function array(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(where, "is not a list");
  return v;
}

function text(v: unknown, where: string): string {
  if (typeof v !== "string") throw invalid(where, "is not a string");
  return v;
}

/** A list of sizes: non-negative integers (null too where a size may be left open). */
function sizes(v: unknown, where: string, open = false): (number | null)[] {
  return array(v, where).map((d, i) => {
    if (open && d === null) return null;
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw invalid(`${where}[${i}]`, `is ${JSON.stringify(d)}, not a size`);
    }
    return d;
  });
}

/** A weight spec of the manifest, checked. */
function weightSpec(v: unknown, where: string): WeightSpec {
  const w = object(v, where);
  const spec: WeightSpec = {
    name: text(w.name, `${where}.name`),
    shape: sizes(w.shape, `${where}.shape`) as number[],
    dtype: text(w.dtype, `${where}.dtype`),
  };
  if (w.quantization !== undefined) {
    const q = object(w.quantization, `${where}.quantization`);
    for (const k of ["scale", "min"]) {
      if (q[k] !== undefined && !Number.isFinite(q[k])) {
        throw invalid(`${where}.quantization.${k}`, `is ${JSON.stringify(q[k])}, not a number`);
      }
    }
    spec.quantization = {
      dtype: text(q.dtype, `${where}.quantization.dtype`),
      scale: q.scale as number | undefined,
      min: q.min as number | undefined,
    };
  }
  return spec;
}

/** A layer of the topology, checked for the fields every layer has. */
function layerJson(v: unknown, where: string): LayerJson {
  const l = object(v, where);
  const config = object(l.config, `${where}.config`);
  const name = l.name ?? config.name;
  return {
    class_name: text(l.class_name, `${where}.class_name`),
    name: text(name, `${where}.name`),
    config,
    inbound_nodes: l.inbound_nodes === undefined
      ? undefined
      : array(l.inbound_nodes, `${where}.inbound_nodes`),
  };
}

/** Decodes every weight of the manifest into float32 tensors, by name. */
async function readWeights(manifest: unknown[], read: ShardReader): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  for (const [g, entry] of manifest.entries()) {
    const where = `weightsManifest[${g}]`;
    const raw = object(entry, where);
    const group = {
      paths: array(raw.paths, `${where}.paths`).map((p, i) => text(p, `${where}.paths[${i}]`)),
      weights: array(raw.weights, `${where}.weights`).map((w, i) =>
        weightSpec(w, `${where}.weights[${i}]`)
      ),
    };
    const shards = await Promise.all(group.paths.map(async (p) => {
      try {
        return await read(p);
      } catch (cause) {
        if (cause instanceof ModelFormatError) throw cause;
        throw new ModelFormatError(`Cannot read weight shard "${p}": ${(cause as Error).message}`, {
          cause,
        });
      }
    }));
    const total = shards.reduce((s, b) => s + b.length, 0);
    const data = new Uint8Array(total);
    let o = 0;
    for (const s of shards) {
      data.set(s, o);
      o += s.length;
    }
    let at = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const bytes = n * (q ? QUANT_BYTES[q.dtype] ?? NaN : w.dtype === "float32" ? 4 : NaN);
      if (!Number.isFinite(bytes)) {
        throw new ModelFormatError(
          `Weight "${w.name}" has dtype "${q?.dtype ?? w.dtype}", which is not supported ` +
            `(float32, or quantized to uint8, uint16 or float16)`,
        );
      }
      if (at + bytes > total) {
        throw new ModelFormatError(
          `Weight "${w.name}" needs bytes ${at}..${
            at + bytes
          }, the shards hold ${total}: a shard ` +
            `of [${group.paths.join(", ")}] is missing or short`,
        );
      }
      const raw = data.slice(at, at + bytes);
      at += bytes;
      let values: Float32Array;
      if (!q) values = new Float32Array(raw.buffer);
      else if (q.dtype === "float16") values = float16ToFloat32(new Uint16Array(raw.buffer));
      else {
        const ints = q.dtype === "uint8" ? raw : new Uint16Array(raw.buffer);
        const scale = q.scale ?? 1;
        const min = q.min ?? 0;
        values = Float32Array.from(ints, (v) => v * scale + min);
      }
      out.set(w.name, new Tensor("float32", values, w.shape));
    }
    if (at !== total) {
      throw new ModelFormatError(
        `The weights of ${where} take ${at} bytes, its shards [${group.paths.join(", ")}] hold ` +
          `${total}: the manifest does not describe these shards`,
      );
    }
  }
  return out;
}

/**
 * Visits every element of a Keras conv kernel [kh, kw, cin, cout] (HWIO; HW·C·M for
 * depthwise) with its index there and in the IR's OIHW weight ([cin·M, 1, kh, kw] for
 * depthwise): the importer moves values one way, the writer (write.ts) the other.
 */
export function forEachKernelIndex(
  dims: readonly number[],
  depthwise: boolean,
  visit: (keras: number, oihw: number) => void,
): void {
  const [kh, kw, cin, cout] = dims;
  const perGroupIn = depthwise ? 1 : cin;
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          const oc = depthwise ? i * cout + o : o;
          const ic = depthwise ? 0 : i;
          visit(((y * kw + x) * cin + i) * cout + o, ((oc * perGroupIn + ic) * kh + y) * kw + x);
        }
      }
    }
  }
}

/** NHWC axis → NCHW axis for rank-4 image tensors. */
function nchwAxis(axis: number): number {
  const a = axis < 0 ? axis + 4 : axis;
  return [0, 2, 3, 1][a] ?? axis;
}

/** The layer names (with node indices ignored) a layer reads, in order. */
function inboundNames(l: LayerJson): string[] {
  const nodes = l.inbound_nodes ?? [];
  if (nodes.length === 0) return [];
  const first = nodes[0] as unknown;
  if (Array.isArray(first)) return first.map((e) => String(Array.isArray(e) ? e[0] : e));
  // Keras 3 style: { args: [{ config: { keras_history: [name, i, j] } }, ...] }.
  const args = (first as { args?: unknown[] }).args ?? [];
  const names: string[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      const h = (v as { config?: { keras_history?: unknown[] } }).config?.keras_history;
      if (h) names.push(String(h[0]));
    }
  };
  visit(args);
  return names;
}

/**
 * Converts a parsed `model.json` (layers format) and its shards into an IR model. Unknown
 * layer classes are all reported at once.
 */
export async function decodeTfjsLayers(modelJson: unknown, read: ShardReader): Promise<Model> {
  const m = modelJson as {
    format?: string;
    modelTopology?: { model_config?: { class_name: string; config: unknown } };
    weightsManifest?: { paths: string[]; weights: WeightSpec[] }[];
  };
  const topo = m?.modelTopology?.model_config;
  if (!topo || !Array.isArray(m.weightsManifest)) {
    throw new ModelFormatError(
      m?.format === "graph-model"
        ? "Not a TF.js layers model: this model.json is a graph model, which is not supported; " +
          "convert the Keras model with tensorflowjs_converter --output_format tfjs_layers_model"
        : "Not a TF.js layers model: model.json lacks modelTopology.model_config or " +
          "weightsManifest",
    );
  }
  const weights = await readWeights(m.weightsManifest, read);
  let layers: LayerJson[];
  let outputsOf: string[];
  const layerList = (v: unknown, where: string) =>
    array(v, where).map((l, i) => layerJson(l, `${where}[${i}]`));
  if (topo.class_name === "Sequential") {
    const cfg = topo.config;
    layers = Array.isArray(cfg)
      ? layerList(cfg, "model_config.config")
      : layerList(object(cfg, "model_config.config").layers ?? [], "model_config.config.layers");
    // Chain: each layer reads the previous one; an InputLayer may lead.
    layers = layers.map((l, i) => ({
      ...l,
      name: l.name ?? (l.config.name as string),
      inbound_nodes: i === 0 ? [] : [[[layers[i - 1].name ?? layers[i - 1].config.name, 0, 0, {}]]],
    }));
    if (layers[0] && layers[0].class_name !== "InputLayer") {
      const shape = layers[0].config.batch_input_shape as (number | null)[] | undefined;
      layers.unshift({
        class_name: "InputLayer",
        name: "input",
        config: { batch_input_shape: shape ?? [null, null, null, null], name: "input" },
      });
      layers[1].inbound_nodes = [[["input", 0, 0, {}]]];
    }
    outputsOf = [layers[layers.length - 1].name!];
  } else if (topo.class_name === "Functional" || topo.class_name === "Model") {
    const cfg = object(topo.config, "model_config.config");
    layers = layerList(cfg.layers, "model_config.config.layers");
    outputsOf = array(cfg.output_layers, "model_config.config.output_layers").map((o, i) =>
      text(array(o, `model_config.config.output_layers[${i}]`)[0], `output_layers[${i}][0]`)
    );
  } else {
    throw new ModelFormatError(
      `Unsupported TF.js model class "${topo.class_name}": only Sequential and Functional ` +
        `models are supported`,
    );
  }
  if (layers.length === 0) throw invalid("model_config", "has no layers");
  if (outputsOf.length === 0) throw invalid("model_config", "names no output layer");

  const nodes: Node[] = [];
  const initializers = new Map<string, Tensor>();
  const inputs: ValueInfo[] = [];
  const unsupported: UnsupportedNode[] = [];
  let uid = 0;
  const node = (
    op: string,
    ins: string[],
    outs: string[],
    attributes: Record<string, AttributeValue> = {},
    name?: string,
  ) => {
    nodes.push({
      name: name ?? `${op}_${uid++}`,
      op,
      domain: "",
      inputs: ins,
      outputs: outs,
      attributes,
    });
  };
  const weight = (layer: string, kind: string) => {
    const w = weights.get(`${layer}/${kind}`);
    if (!w) throw new ModelFormatError(`Weight "${layer}/${kind}" is missing from the manifest`);
    return w;
  };
  const constant = (name: string, t: Tensor) => {
    initializers.set(name, t);
    return name;
  };
  /** Applies a Keras activation by name to `x`, producing `out`. */
  const activation = (act: string, x: string, out: string, layer: string): boolean => {
    switch (act) {
      case "linear":
        node("Identity", [x], [out], {}, `${layer}/linear`);
        return true;
      case "relu":
        node("Relu", [x], [out], {}, `${layer}/relu`);
        return true;
      case "relu6":
        node(
          "Clip",
          [x, constant(`${layer}/min`, f32([0])), constant(`${layer}/max`, f32([6]))],
          [out],
          {},
          `${layer}/relu6`,
        );
        return true;
      case "sigmoid":
        node("Sigmoid", [x], [out], {}, `${layer}/sigmoid`);
        return true;
      case "tanh":
        node("Tanh", [x], [out], {}, `${layer}/tanh`);
        return true;
      case "elu":
        node("Elu", [x], [out], { alpha: 1 }, `${layer}/elu`);
        return true;
      case "swish":
      case "silu":
        node("Sigmoid", [x], [`${out}/sig`], {}, `${layer}/sigmoid`);
        node("Mul", [x, `${out}/sig`], [out], {}, `${layer}/swish`);
        return true;
      case "gelu":
        node("Gelu", [x], [out], {}, `${layer}/gelu`);
        return true;
    }
    return false;
  };
  // Layers come in order: each reads layers listed before it (what the executor needs too).
  const seen = new Set<string>();
  const needs: Record<string, number> = { InputLayer: 0, Add: 2 };
  for (const l of layers) {
    const name = l.name!;
    const c = l.config;
    const ins = inboundNames(l);
    const out = name;
    const fail = (reason: string) => unsupported.push({ node: name, op: l.class_name, reason });
    const missing = ins.find((i) => !seen.has(i));
    if (missing !== undefined) {
      throw new ModelFormatError(
        `TF.js layer "${name}" (${l.class_name}) reads "${missing}", which no layer before it ` +
          `produces`,
      );
    }
    if (ins.length < (needs[l.class_name] ?? 1)) {
      throw new ModelFormatError(
        `TF.js layer "${name}" (${l.class_name}) has ${ins.length} input(s), it needs ` +
          `${needs[l.class_name] ?? 1}`,
      );
    }
    seen.add(name);
    switch (l.class_name) {
      case "InputLayer": {
        const shape = sizes(
          c.batch_input_shape ?? c.batch_shape,
          `layer "${name}" batch_input_shape`,
          true,
        );
        const dims = shape.map((
          d,
          i,
        ) => (d === null ? `${name}_${["N", "H", "W", "C"][i] ?? i}` : d));
        inputs.push({ name, type: "float32", dims });
        if (dims.length === 4) {
          node("Transpose", [name], [`${name}/nchw`], { perm: [0, 3, 1, 2] }, `${name}/to_nchw`);
        }
        break;
      }
      case "Conv2D":
      case "DepthwiseConv2D": {
        if (c.data_format && c.data_format !== "channels_last") {
          fail(`data_format "${c.data_format}"`);
          break;
        }
        const depthwise = l.class_name === "DepthwiseConv2D";
        const k = weight(name, depthwise ? "depthwise_kernel" : "kernel");
        if (k.dims.length !== 4) {
          throw new ModelFormatError(
            `Weight "${name}/${depthwise ? "depthwise_kernel" : "kernel"}" is [${k.dims}], ` +
              `a 2-D convolution kernel has 4 dimensions`,
          );
        }
        const [kh, kw, cin, cout] = k.dims;
        const src = k.data as Float32Array;
        const groups = depthwise ? cin : (c.groups as number | undefined) ?? 1;
        const outCh = depthwise ? cin * cout : cout;
        const perGroupIn = depthwise ? 1 : cin;
        const w = new Float32Array(outCh * perGroupIn * kh * kw);
        forEachKernelIndex(k.dims, depthwise, (keras, oihw) => (w[oihw] = src[keras]));
        const wName = constant(
          `${name}/weight`,
          new Tensor("float32", w, [outCh, perGroupIn, kh, kw]),
        );
        const convIns = [`${ins[0]}/nchw`, wName];
        if (c.use_bias !== false) convIns.push(constant(`${name}/b`, weight(name, "bias")));
        const act = (c.activation as string | undefined) ?? "linear";
        const convOut = act === "linear" ? `${out}/nchw` : `${out}/pre`;
        node("Conv", convIns, [convOut], {
          kernel_shape: [kh, kw],
          strides: (c.strides as number[]) ?? [1, 1],
          dilations: (c.dilation_rate as number[]) ?? [1, 1],
          group: groups,
          auto_pad: c.padding === "same" ? "SAME_UPPER" : "VALID",
        }, name);
        if (act !== "linear" && !activation(act, convOut, `${out}/nchw`, name)) {
          fail(`activation "${act}"`);
        }
        break;
      }
      case "Activation": {
        if (!activation(c.activation as string, `${ins[0]}/nchw`, `${out}/nchw`, name)) {
          fail(`activation "${c.activation}"`);
        }
        break;
      }
      case "ReLU": {
        const max = c.max_value as number | null | undefined;
        if (max == null) node("Relu", [`${ins[0]}/nchw`], [`${out}/nchw`], {}, name);
        else {
          node(
            "Clip",
            [
              `${ins[0]}/nchw`,
              constant(`${name}/min`, f32([0])),
              constant(`${name}/max`, f32([max])),
            ],
            [`${out}/nchw`],
            {},
            name,
          );
        }
        break;
      }
      case "LeakyReLU":
        node("LeakyRelu", [`${ins[0]}/nchw`], [`${out}/nchw`], {
          alpha: (c.alpha as number | undefined) ?? 0.3,
        }, name);
        break;
      case "Add": {
        let acc = `${ins[0]}/nchw`;
        for (let i = 1; i < ins.length; i++) {
          const o = i === ins.length - 1 ? `${out}/nchw` : `${out}/sum${i}`;
          node(
            "Add",
            [acc, `${ins[i]}/nchw`],
            [o],
            {},
            i === ins.length - 1 ? name : `${name}/${i}`,
          );
          acc = o;
        }
        break;
      }
      case "Concatenate":
        node("Concat", ins.map((i) => `${i}/nchw`), [`${out}/nchw`], {
          axis: nchwAxis((c.axis as number | undefined) ?? -1),
        }, name);
        break;
      case "UpSampling2D": {
        if ((c.interpolation ?? "nearest") !== "nearest" && c.interpolation !== "bilinear") {
          fail(`interpolation "${c.interpolation}"`);
          break;
        }
        const [sh, sw] = sizes(c.size ?? [2, 2], `layer "${name}" size`) as number[];
        node(
          "Resize",
          [`${ins[0]}/nchw`, "", constant(`${name}/scales`, f32([1, 1, sh, sw]))],
          [
            `${out}/nchw`,
          ],
          c.interpolation === "bilinear"
            ? { mode: "linear", coordinate_transformation_mode: "half_pixel" }
            : {
              mode: "nearest",
              coordinate_transformation_mode: "asymmetric",
              nearest_mode: "floor",
            },
          name,
        );
        break;
      }
      default:
        fail("layer class not supported");
    }
  }
  if (unsupported.length) throw new UnsupportedOpError(unsupported);
  const unknown = outputsOf.find((o) => !seen.has(o));
  if (unknown !== undefined) throw invalid("output_layers", `name "${unknown}", not a layer`);
  const outputs: ValueInfo[] = outputsOf.map((o) => {
    node("Transpose", [`${o}/nchw`], [o], { perm: [0, 2, 3, 1] }, `${o}/to_nhwc`);
    return { name: o, type: "float32" };
  });
  const graph: Graph = { name: "tfjs", nodes, inputs, outputs, initializers, valueInfo: new Map() };
  return { graph, opsets: { "": 17 }, producer: "tfjs-layers" };
}

function f32(values: number[]): Tensor<"float32"> {
  return new Tensor("float32", Float32Array.from(values), [values.length]);
}

/** Reads and parses a `model.json` from a file path or URL. */
export async function readTfjsModelJson(modelJsonPath: string | URL): Promise<unknown> {
  const bytes = await readSource(modelJsonPath, "TF.js model");
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ModelFormatError(
      `Cannot read TF.js model "${modelJsonPath}": ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Reads the weight shards named in a `model.json` found at `modelJsonPath`. */
export function siblingShards(modelJsonPath: string | URL): ShardReader {
  return (p) => {
    // Shards sit beside model.json: no parent directories, roots or other hosts.
    checkBesideName(p, "Weight shard");
    return readSource(siblingSource(modelJsonPath, p), "weight shard");
  };
}

/** Loads `model.json` and its shards from a file path or URL into an IR model. */
export async function loadTfjsLayers(modelJsonPath: string | URL): Promise<Model> {
  const json = await readTfjsModelJson(modelJsonPath);
  return await decodeTfjsLayers(json, siblingShards(modelJsonPath));
}

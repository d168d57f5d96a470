/**
 * One Mamba-1 decode step as an ONNX graph, built from the same Hugging Face-named weights
 * MambaModel loads: the peer column of bench/mamba.ts (onnxruntime-web) and an independent
 * oracle for the Mamba tests (onnxruntime-node). Written from
 * the Mamba-1 definition (RMSNorm, in_proj, causal depthwise conv step, SiLU, x_proj, dt_proj,
 * softplus, the selective-scan step, the SiLU gate, out_proj, residual; final norm, LM head).
 *
 * Inputs: `token` (int64 [1]) and, per layer i, `conv_i` (the previous dConv - 1 conv inputs,
 * [1, dInner, dConv - 1]) and `ssm_i` ([1, dInner, dState]); outputs: `logits` ([1, vocab])
 * and the next `conv_out_i`, `ssm_out_i` (`mambaStepStates` lists them). Opset 17.
 */
import { buildModel, type BuildNode, type BuildValue } from "./_onnx_builder.ts";
import type { MambaConfig } from "../engine/models/mamba/mamba.ts";
import { Tensor } from "../engine/tensor.ts";

/** Wᵀ of a [rows, cols] row-major weight, as a [cols, rows] tensor (what MatMul x · W takes). */
function transposed(t: Tensor): Tensor {
  const [rows, cols] = t.dims;
  const a = t.data as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return new Tensor("float32", out, [cols, rows]);
}

const ints = (v: number[]) => new Tensor("int64", BigInt64Array.from(v.map(BigInt)), [v.length]);

/** One recurrent state of the step: its input, the output that carries it on, its dims. */
export interface MambaStepState {
  input: string;
  output: string;
  dims: number[];
}

/** The step's states, layer by layer: the conv window, then the SSM state. */
export function mambaStepStates(cfg: MambaConfig): MambaStepState[] {
  return Array.from({ length: cfg.layers }, (_, i) => [
    { input: `conv_${i}`, output: `conv_out_${i}`, dims: [1, cfg.dInner, cfg.dConv - 1] },
    { input: `ssm_${i}`, output: `ssm_out_${i}`, dims: [1, cfg.dInner, cfg.dState] },
  ]).flat();
}

/** The decode-step model of `cfg` with weights `w` (names as in MambaForCausalLM). */
export function mambaStepOnnx(cfg: MambaConfig, w: Map<string, Tensor>): Uint8Array {
  const { dInner, dState, dConv, dtRank, vocab, layers } = cfg;
  const get = (name: string) => {
    const t = w.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    return t;
  };
  const init: Record<string, Tensor> = {
    emb: get("backbone.embeddings.weight"),
    eps: new Tensor("float32", Float32Array.of(cfg.eps), [1]),
    split_xz: ints([dInner, dInner]),
    split_dbc: ints([dtRank, dState, dState]),
    axis2: ints([2]),
    start1: ints([1]),
    end_conv: ints([dConv]),
    shape_col: ints([1, dInner, 1]),
    shape_row: ints([1, dInner]),
    shape_b: ints([1, 1, dState]),
    shape_c: ints([1, dState, 1]),
    norm_f: get("backbone.norm_f.weight"),
    head: transposed(w.get("lm_head.weight") ?? get("backbone.embeddings.weight")),
  };
  const nodes: BuildNode[] = [];
  const node = (op: string, inputs: string[], outputs: string[], attributes = {}) =>
    nodes.push({ op, inputs, outputs, attributes });
  const rmsNorm = (x: string, weight: string, out: string) => {
    node("Mul", [x, x], [`${out}_sq`]);
    node("ReduceMean", [`${out}_sq`], [`${out}_ms`], { axes: [-1], keepdims: 1 });
    node("Add", [`${out}_ms`, "eps"], [`${out}_mse`]);
    node("Sqrt", [`${out}_mse`], [`${out}_rms`]);
    node("Div", [x, `${out}_rms`], [`${out}_unit`]);
    node("Mul", [`${out}_unit`, weight], [out]);
  };
  const silu = (x: string, out: string) => {
    node("Sigmoid", [x], [`${out}_sig`]);
    node("Mul", [x, `${out}_sig`], [out]);
  };
  node("Gather", ["emb", "token"], ["h0"], { axis: 0 });
  const states = mambaStepStates(cfg);
  const inputs: BuildValue[] = [
    { name: "token", type: "int64", dims: [1] },
    ...states.map((s) => ({ name: s.input, dims: s.dims })),
  ];
  const outputs: BuildValue[] = [
    { name: "logits", dims: [1, vocab] },
    ...states.map((s) => ({ name: s.output, dims: s.dims })),
  ];
  for (let i = 0; i < layers; i++) {
    const p = `backbone.layers.${i}.`;
    const l = (s: string) => `l${i}_${s}`;
    const A = get(`${p}mixer.A_log`).data as Float32Array;
    Object.assign(init, {
      [l("norm")]: get(`${p}norm.weight`),
      [l("in")]: transposed(get(`${p}mixer.in_proj.weight`)),
      [l("conv_w")]: new Tensor("float32", get(`${p}mixer.conv1d.weight`).data as Float32Array, [
        1,
        dInner,
        dConv,
      ]),
      [l("conv_b")]: get(`${p}mixer.conv1d.bias`),
      [l("x")]: transposed(get(`${p}mixer.x_proj.weight`)),
      [l("dt")]: transposed(get(`${p}mixer.dt_proj.weight`)),
      [l("dt_b")]: get(`${p}mixer.dt_proj.bias`),
      [l("A")]: new Tensor("float32", A.map((v) => -Math.exp(v)), [dInner, dState]),
      [l("D")]: get(`${p}mixer.D`),
      [l("out")]: transposed(get(`${p}mixer.out_proj.weight`)),
    });
    const [conv, ssm] = [states[2 * i], states[2 * i + 1]];
    const h = `h${i}`;
    rmsNorm(h, l("norm"), l("hn"));
    node("MatMul", [l("hn"), l("in")], [l("xz")]);
    node("Split", [l("xz"), "split_xz"], [l("xi"), l("z")], { axis: 1 });
    // Conv step: the window is the kept inputs then this one; the next state drops the oldest.
    node("Reshape", [l("xi"), "shape_col"], [l("xi3")]);
    node("Concat", [conv.input, l("xi3")], [l("win")], { axis: 2 });
    node("Slice", [l("win"), "start1", "end_conv", "axis2"], [conv.output]);
    node("Mul", [l("win"), l("conv_w")], [l("cw")]);
    node("ReduceSum", [l("cw"), "axis2"], [l("cs")], { keepdims: 0 });
    node("Add", [l("cs"), l("conv_b")], [l("cb")]);
    silu(l("cb"), l("u"));
    node("MatMul", [l("u"), l("x")], [l("dbc")]);
    node("Split", [l("dbc"), "split_dbc"], [l("dt_in"), l("B"), l("C")], { axis: 1 });
    node("MatMul", [l("dt_in"), l("dt")], [l("dt_l")]);
    node("Add", [l("dt_l"), l("dt_b")], [l("dt_lb")]);
    node("Softplus", [l("dt_lb")], [l("delta")]);
    // Selective-scan step: h' = exp(delta A) h + delta u B; y = h' C + D u.
    node("Reshape", [l("delta"), "shape_col"], [l("delta3")]);
    node("Mul", [l("delta3"), l("A")], [l("dA_in")]);
    node("Exp", [l("dA_in")], [l("dA")]);
    node("Mul", [l("delta"), l("u")], [l("du")]);
    node("Reshape", [l("du"), "shape_col"], [l("du3")]);
    node("Reshape", [l("B"), "shape_b"], [l("B3")]);
    node("Mul", [l("du3"), l("B3")], [l("dBu")]);
    node("Mul", [l("dA"), ssm.input], [l("dAh")]);
    node("Add", [l("dAh"), l("dBu")], [ssm.output]);
    node("Reshape", [l("C"), "shape_c"], [l("C3")]);
    node("MatMul", [ssm.output, l("C3")], [l("y3")]);
    node("Reshape", [l("y3"), "shape_row"], [l("y")]);
    node("Mul", [l("u"), l("D")], [l("Du")]);
    node("Add", [l("y"), l("Du")], [l("yD")]);
    silu(l("z"), l("zg"));
    node("Mul", [l("yD"), l("zg")], [l("yz")]);
    node("MatMul", [l("yz"), l("out")], [l("o")]);
    node("Add", [h, l("o")], [`h${i + 1}`]);
  }
  rmsNorm(`h${layers}`, "norm_f", "hf");
  node("MatMul", ["hf", "head"], ["logits"]);
  return buildModel({ nodes, inputs, outputs, initializers: init }, 17);
}

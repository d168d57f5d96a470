import { deepStrictEqual, ok } from "node:assert/strict";
import { activationCode } from "../../kernels-as/activations.ts";
import { KERNEL_NAMES } from "../../kernels-as/build/kernel_abi.ts";
import { SCAN_KERNELS } from "../../kernels-as/scan/kernels.ts";
import type { Kernels } from "../../engine/wasm/kernels.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import {
  causalConv1dReference,
  type ConvCase,
  type ScanCase,
  selectiveScanReference,
} from "../reference/scan.ts";

const TOL = { rtol: 1e-4, atol: 1e-5 };

function transposeTaps(w: Float32Array, D: number, K: number): Float32Array {
  const t = new Float32Array(D * K);
  for (let d = 0; d < D; d++) for (let k = 0; k < K; k++) t[k * D + d] = w[d * K + k];
  return t;
}

/** Runs the conv kernel on rows with a stride past D (as on an in_proj half). */
function runConv(kr: Kernels, c: ConvCase, ldx: number, ldy: number) {
  const { L, D, K } = c;
  const xs = new Float32Array(Math.max(L * ldx, 1)).fill(NaN);
  for (let t = 0; t < L; t++) xs.set(c.x.subarray(t * D, (t + 1) * D), t * ldx);
  const px = upload(kr, xs);
  const pw = upload(kr, transposeTaps(c.w, D, K));
  const pb = c.bias ? upload(kr, c.bias) : 0;
  const ps = upload(kr, c.state ?? new Float32Array(Math.max((K - 1) * D, 1)));
  const py = kr.arena.alloc(Math.max(L * ldy, 1) * 4);
  kr.fn.f32_dwconv1d_causal_x4(
    L,
    D,
    K,
    px,
    ldx,
    pw,
    pb,
    ps,
    py,
    ldy,
    activationCode(c.silu ? "silu" : "none"),
  );
  const yr = download(kr, py, L * ldy);
  const y = new Float32Array(L * D);
  for (let t = 0; t < L; t++) y.set(yr.subarray(t * ldy, t * ldy + D), t * D);
  const state = download(kr, ps, (K - 1) * D);
  for (const p of [px, pw, pb, ps, py]) if (p) kr.arena.free(p);
  return { y, state };
}

function scanCase(rng: Random, L: number, D: number, N: number, all: boolean): ScanCase {
  const softplus = all && rng.next() < 0.7;
  return {
    L,
    D,
    N,
    x: rng.floats(L * D, -2, 2),
    dt: softplus ? rng.floats(L * D, -5, 1) : rng.floats(L * D, 0.001, 0.2),
    // Without softplus dt + bias must stay positive, as a real dt does.
    dtBias: all && rng.next() < 0.7
      ? softplus ? rng.floats(D, -1, 0.5) : rng.floats(D, 0, 0.1)
      : undefined,
    softplus,
    A: rng.floats(D * N, -16, -0.5),
    B: rng.floats(L * N),
    C: rng.floats(L * N),
    Dskip: all ? rng.floats(D) : undefined,
    z: all && rng.next() < 0.8 ? rng.floats(L * D, -3, 3) : undefined,
    h0: rng.floats(D * N),
  };
}

/**
 * Runs the scan: the step kernel token by token, or the sequence kernel with row strides
 * (x, z inside a wider row as in in_proj; B, C as slices of one x_proj row [R | B | C]).
 */
function runScan(kr: Kernels, c: ScanCase, form: "step" | "seq") {
  const { L, D, N } = c;
  const pad = 3;
  const ldx = D + pad;
  const ldbc = 2 + 2 * N; // x_proj rows: [dt_rank = 2 | B | C]
  const rows = (src: Float32Array, width: number, ld: number, at: number) => {
    const out = new Float32Array(Math.max(L * ld, 1));
    for (let t = 0; t < L; t++) out.set(src.subarray(t * width, (t + 1) * width), t * ld + at);
    return out;
  };
  const xp = new Float32Array(Math.max(L * ldbc, 1));
  xp.set(rows(c.B, N, ldbc, 2));
  const cRows = rows(c.C, N, ldbc, 2 + N);
  for (let i = 0; i < xp.length; i++) xp[i] += cRows[i];
  const px = upload(kr, rows(c.x, D, ldx, 0));
  const pdt = upload(kr, rows(c.dt, D, ldx, 0));
  const pz = c.z ? upload(kr, rows(c.z, D, ldx, 0)) : 0;
  const pxp = upload(kr, xp);
  const pa = upload(kr, c.A);
  const pbias = c.dtBias ? upload(kr, c.dtBias) : 0;
  const pskip = c.Dskip ? upload(kr, c.Dskip) : 0;
  const ph = upload(kr, c.h0 ?? new Float32Array(D * N));
  const ldy = D + 1;
  const py = kr.arena.alloc(Math.max(L * ldy, 1) * 4);
  const sp = c.softplus ? 1 : 0;
  if (form === "step") {
    for (let t = 0; t < L; t++) {
      const row = t * ldx * 4;
      kr.fn.f32_scan_selective_step_x4(
        D,
        N,
        px + row,
        pdt + row,
        pbias,
        sp,
        pa,
        pxp + (t * ldbc + 2) * 4,
        pxp + (t * ldbc + 2 + N) * 4,
        pskip,
        pz ? pz + row : 0,
        ph,
        py + t * ldy * 4,
      );
    }
  } else {
    kr.fn.f32_scan_selective_seq_x4(
      L,
      D,
      N,
      px,
      ldx,
      pdt,
      ldx,
      pbias,
      sp,
      pa,
      pxp + 2 * 4,
      ldbc,
      pxp + (2 + N) * 4,
      ldbc,
      pskip,
      pz,
      ldx,
      ph,
      py,
      ldy,
    );
  }
  const yr = download(kr, py, L * ldy);
  const y = new Float32Array(L * D);
  for (let t = 0; t < L; t++) y.set(yr.subarray(t * ldy, t * ldy + D), t * D);
  const h = download(kr, ph, D * N);
  for (const p of [px, pdt, pz, pxp, pa, pbias, pskip, ph, py]) if (p) kr.arena.free(p);
  return { y, h };
}

Deno.test("every kernel in the scan manifest is built", () => {
  for (const k of SCAN_KERNELS) ok(KERNEL_NAMES.includes(k.name as never), k.name);
});

for (const variant of VARIANTS) {
  Deno.test(`f32_dwconv1d_causal_x4 matches the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(91);
    for (const K of [1, 2, 3, 4, 5]) {
      for (const D of [1, 3, 4, 7, 16, 33]) {
        for (const L of [1, 2, 3, 7, 40]) {
          const c: ConvCase = {
            L,
            D,
            K,
            x: rng.floats(L * D),
            w: rng.floats(D * K),
            bias: rng.next() < 0.7 ? rng.floats(D) : undefined,
            state: rng.next() < 0.7 ? rng.floats((K - 1) * D) : undefined,
            silu: rng.next() < 0.5,
          };
          const want = causalConv1dReference(c);
          const got = runConv(kr, c, D + (L % 3), D + 2);
          const what = `K ${K} D ${D} L ${L}${c.silu ? " silu" : ""}`;
          assertClose(got.y, want.y, TOL, `${what}: y`);
          assertClose(got.state, want.state, { rtol: 0, atol: 0 }, `${what}: state`);
        }
      }
    }
  });

  Deno.test(`causal conv1d in chunks with carried state equals one pass: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(92);
    for (const K of [3, 4]) {
      const [L, D] = [11, 13];
      const whole: ConvCase = { L, D, K, x: rng.floats(L * D), w: rng.floats(D * K), silu: true };
      const all = runConv(kr, whole, D, D);
      let state: Float32Array | undefined;
      const ys: number[] = [];
      for (const [t0, t1] of [[0, 1], [1, 2], [2, 7], [7, 8], [8, 11]]) {
        const part = { ...whole, L: t1 - t0, x: whole.x.slice(t0 * D, t1 * D), state };
        const r = runConv(kr, part, D, D);
        ys.push(...r.y);
        state = r.state;
      }
      deepStrictEqual(Float32Array.from(ys), all.y, `K ${K}: y`);
      deepStrictEqual(state, all.state, `K ${K}: state`);
    }
  });

  Deno.test(`selective scan step and sequence kernels match the reference: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(93);
    for (const N of [1, 3, 4, 5, 16, 17]) {
      for (const D of [1, 3, 5, 16, 33]) {
        for (const L of [1, 2, 15, 16, 17, 40]) {
          const c = scanCase(rng, L, D, N, rng.next() < 0.8);
          const want = selectiveScanReference(c);
          for (const form of ["step", "seq"] as const) {
            const got = runScan(kr, c, form);
            const what = `${form} N ${N} D ${D} L ${L}${c.softplus ? " softplus" : ""}` +
              `${c.dtBias ? " bias" : ""}${c.z ? " z" : ""}`;
            assertClose(got.y, want.y, TOL, `${what}: y`);
            assertClose(got.h, want.h, TOL, `${what}: h`);
          }
        }
      }
    }
  });

  Deno.test(`selective scan at mamba-130m width, prefill then decode: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(94);
    const [D, N] = [1536, 16];
    const c = scanCase(rng, 20, D, N, true);
    c.softplus = true;
    c.dtBias = rng.floats(D, -4, -2);
    const want = selectiveScanReference(c);
    const prefill = { ...c, L: 17, x: c.x.slice(0, 17 * D), dt: c.dt.slice(0, 17 * D) };
    Object.assign(prefill, {
      B: c.B.slice(0, 17 * N),
      C: c.C.slice(0, 17 * N),
      z: c.z?.slice(0, 17 * D),
    });
    const first = runScan(kr, prefill, "seq");
    assertClose(first.y, want.y.subarray(0, 17 * D), TOL, "prefill y");
    let h = first.h;
    for (let t = 17; t < 20; t++) {
      const step: ScanCase = {
        ...c,
        L: 1,
        x: c.x.slice(t * D, (t + 1) * D),
        dt: c.dt.slice(t * D, (t + 1) * D),
        B: c.B.slice(t * N, (t + 1) * N),
        C: c.C.slice(t * N, (t + 1) * N),
        z: c.z?.slice(t * D, (t + 1) * D),
        h0: h,
      };
      const r = runScan(kr, step, "step");
      assertClose(r.y, want.y.subarray(t * D, (t + 1) * D), TOL, `decode ${t} y`);
      h = r.h;
    }
    assertClose(h, want.h, TOL, "final state");
  });
}

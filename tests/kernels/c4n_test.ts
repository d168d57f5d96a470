import { activationCode } from "../../kernels-as/activations.ts";
import { packC4n } from "../../engine/weights/c4n.ts";
import { assertClose } from "../_assert.ts";
import { download, kernelsFor, tolerance, upload, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { activationReference } from "../reference/activations.ts";
import { gemmReference } from "../reference/gemm.ts";
import { c4nWeights } from "../reference/sparse.ts";

for (const variant of VARIANTS) {
  Deno.test(`f32_spmm_c4n_1x48 equals the dense product of the zeroed weights: ${variant}`, async () => {
    const kr = await kernelsFor(variant);
    const rng = new Random(17);
    const shapes: [number, number, number][] = [
      [1, 4, 1],
      [3, 7, 5],
      [5, 17, 33],
      [7, 64, 64],
      [2, 65, 31],
      [9, 3, 8],
      [4, 128, 257],
      [1, 1, 1],
      [33, 257, 96],
      [6, 40, 88],
      [5, 12, 47],
      [3, 20, 64],
      [4, 24, 200],
    ];
    for (const n of [1, 2, 3]) {
      for (const [m, k, cols] of shapes) {
        const w = c4nWeights(rng, m, k, n);
        const x = rng.floats(k * cols);
        const bias = rng.floats(m);
        const p = packC4n(w, m, k, n);
        const pw = kr.arena.alloc(Math.max(p.pairs.byteLength, 4));
        new Int32Array(kr.arena.memory.buffer, pw, p.pairs.length).set(p.pairs);
        const px = upload(kr, x);
        const pb = upload(kr, bias);
        const pc = kr.arena.alloc(m * cols * 4);
        const act = rng.next() < 0.5 ? "none" : "silu";
        const panel = kr.arena.alloc(kr.fn.f32_spmm_c4n_panel_size(k));
        kr.fn.f32_spmm_c4n_1x48(
          m,
          cols,
          k,
          p.s,
          pw,
          px,
          cols,
          pb,
          pc,
          cols,
          activationCode(act),
          0,
          0,
          panel,
        );
        kr.arena.free(panel);
        const f = activationReference(act);
        const want = gemmReference(w, x, m, k, cols).map((v, i) =>
          f(v + bias[Math.floor(i / cols)])
        );
        assertClose(download(kr, pc, m * cols), want, tolerance(k), `n=${n} ${m}x${k}x${cols}`);
        for (const o of [pw, px, pb, pc]) kr.arena.free(o);
      }
    }
  });
}

/**
 * The PWA in headless Chromium (Debian's, installed here when missing): runs silero VAD in the
 * page, matches Deno's numbers, then goes offline and reloads from the service-worker cache. A
 * page forced to the scalar build says so. Saves bench/results/pwa.png.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { buildPwa, pwaHandler } from "../../examples/pwa/serve.ts";
import { loadModel, Tensor } from "../../mod.ts";
import { realModel } from "../_models.ts";
import { launchChromium } from "./_chromium.ts";

/** The page's test signal (examples/pwa/app.mjs testSignal), written again from its definition. */
function signal(chunks: number): Float32Array {
  const x = new Float32Array(chunks * 512);
  for (let i = 0; i < x.length; i++) {
    const burst = Math.floor(i / 4096) % 2 === 0 ? 1 : 0;
    x[i] = burst * 0.3 * Math.sin(i * 0.05) * (1 + 0.5 * Math.sin(i * 0.0031));
  }
  return x;
}

Deno.test("the PWA runs the model in Chromium, matches Deno, works offline, and uses threads when isolated", async () => {
  const dir = await Deno.makeTempDir({ prefix: "quartet-pwa-" });
  const build = await buildPwa(dir);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    pwaHandler(build),
  );
  const isolatedServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    pwaHandler(build, { isolated: true }),
  );
  const { context, profile } = await launchChromium();
  try {
    const base = `http://127.0.0.1:${server.addr.port}/`;
    const page = context.pages()[0] ?? await context.newPage();
    const result = async () => {
      await page.waitForSelector("#result[data-ready]", { state: "attached", timeout: 60_000 });
      return JSON.parse(await page.textContent("#result") ?? "{}");
    };
    await page.goto(base);
    const online = await result();
    // The same chunks in Deno, same kernel build.
    const model = await loadModel(await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx"), {
      kernels: online.variant,
    });
    let state = new Tensor("float32", new Float32Array(256), [2, 1, 128]);
    const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
    const x = signal(24);
    for (let c = 0; c < 24; c++) {
      const out = await model.run({
        input: new Tensor("float32", x.slice(c * 512, (c + 1) * 512), [1, 512]),
        sr,
        state,
      });
      const p = (out.output.data as Float32Array)[0];
      ok(Math.abs(p - online.probs[c]) < 1e-5, `chunk ${c}: page ${online.probs[c]}, Deno ${p}`);
      state = out.stateN as Tensor<"float32">;
    }
    model.dispose();
    await page.waitForFunction(
      "/^(yes|no)/.test(document.getElementById('offline')?.textContent ?? '')",
      null,
      { timeout: 30_000 },
    );
    const offlineReady = await page.textContent("#offline") ?? "";
    ok(offlineReady.startsWith("yes"), `offline ready: ${offlineReady}`);
    await page.screenshot({
      path: new URL("../../bench/results/pwa.png", import.meta.url).pathname,
    });
    // Offline: everything must come from the service worker's cache.
    await context.setOffline(true);
    await page.reload();
    const offline = await result();
    deepStrictEqual(offline.probs, online.probs);
    await context.setOffline(false);
    await page.goto(`${base}?kernels=scalar`);
    const scalar = await result();
    deepStrictEqual(scalar.variant, "scalar");
    ok((await page.textContent("#variant")) === "scalar");
    // Without cross-origin isolation "auto" stays on one thread and says why.
    deepStrictEqual(online.threads.count, 1);
    ok(/cross-origin isolated/.test(online.threads.reason), online.threads.reason);
    // Served with COOP + COEP the page gets worker threads and the same numbers.
    await page.goto(`http://127.0.0.1:${isolatedServer.addr.port}/?threads=2`);
    const threaded = await result();
    deepStrictEqual([threaded.threads.count, threaded.threads.reason], [2, "requested"]);
    for (let c = 0; c < online.probs.length; c++) {
      ok(Math.abs(threaded.probs[c] - online.probs[c]) < 1e-6, `chunk ${c} on threads`);
    }
    // "auto" on an isolated page: the VAD chunk splits nothing, so one thread stays, and once
    // the plain build has compiled (the event loop turns between chunks, as in an app) the
    // model moves to an unshared arena and computes the same.
    const auto = await page.evaluate(async () => {
      const { loadModel, Tensor } = await import("./dist/quartet.mjs");
      const m = await loadModel(new URL("./models/silero_vad_v5.onnx", location.href), {
        threads: "auto",
      });
      const feeds = {
        input: new Tensor("float32", new Float32Array(512).map((_, i) => Math.sin(i) / 3), [
          1,
          512,
        ]),
        sr: new Tensor("int64", new BigInt64Array([16000n]), []),
        state: new Tensor("float32", new Float32Array(256), [2, 1, 128]),
      };
      const first = (await m.run(feeds)).output.data[0];
      let last = first;
      for (let i = 0; i < 2000 && !/unshared/.test(m.summary().threads.reason); i++) {
        last = (await m.run(feeds)).output.data[0];
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      last = (await m.run(feeds)).output.data[0];
      const out = { reason: m.summary().threads.reason, first, last };
      m.dispose();
      return out;
    });
    ok(/big enough to split.*unshared arena/.test(auto.reason), auto.reason);
    deepStrictEqual(auto.last, auto.first);
  } finally {
    await context.close();
    await server.shutdown();
    await isolatedServer.shutdown();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(profile, { recursive: true });
  }
});

// The PWA: loads the engine bundle and silero VAD, runs it on a test signal (or a picked WAV),
// and shows which kernel build runs, the time per chunk and the speech probabilities.
import { loadModel, Tensor } from "./dist/quartet.mjs";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js").then((reg) => {
    // A failed install (a file missing) never makes the worker ready: say so instead of waiting.
    const worker = reg.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "redundant") {
        $("offline").textContent = "no (the service worker could not cache every file)";
      }
    });
    return navigator.serviceWorker.ready;
  })
    .then(() => ($("offline").textContent = "yes: engine and model are cached"))
    .catch((e) => ($("offline").textContent = `no (${e.message})`));
}

/** The test signal the page (and its browser test) analyses: tone bursts and silence. */
export function testSignal(chunks) {
  const x = new Float32Array(chunks * 512);
  for (let i = 0; i < x.length; i++) {
    const burst = Math.floor(i / 4096) % 2 === 0 ? 1 : 0;
    x[i] = burst * 0.3 * Math.sin(i * 0.05) * (1 + 0.5 * Math.sin(i * 0.0031));
  }
  return x;
}

function readWav(buf) {
  const v = new DataView(buf);
  let o = 12;
  let rate = 16000;
  while (o + 8 <= v.byteLength) {
    const id = String.fromCharCode(
      v.getUint8(o),
      v.getUint8(o + 1),
      v.getUint8(o + 2),
      v.getUint8(o + 3),
    );
    const size = v.getUint32(o + 4, true);
    if (id === "fmt ") {
      if (v.getUint16(o + 8, true) !== 1 || v.getUint16(o + 22, true) !== 16) {
        throw new Error("only 16-bit PCM WAV");
      }
      rate = v.getUint32(o + 12, true);
    }
    if (id === "data") {
      if (rate !== 16000) throw new Error(`the file is ${rate} Hz; the model needs 16 kHz`);
      const n = size / 2;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = v.getInt16(o + 8 + 2 * i, true) / 32768;
      return x;
    }
    o += 8 + size + (size & 1);
  }
  throw new Error("no audio data in the file");
}

async function analyse(model, signal) {
  let state = new Tensor("float32", new Float32Array(256), [2, 1, 128]);
  const sr = new Tensor("int64", new BigInt64Array([16000n]), []);
  const probs = [];
  const t0 = performance.now();
  const chunks = Math.floor(signal.length / 512);
  for (let c = 0; c < chunks; c++) {
    const input = new Tensor("float32", signal.slice(c * 512, (c + 1) * 512), [1, 512]);
    const out = await model.run({ input, state, sr });
    probs.push(out.output.data[0]);
    state = out.stateN;
  }
  const ms = (performance.now() - t0) / Math.max(chunks, 1);
  $("timing").textContent = `${ms.toFixed(3)} ms`;
  $("bars").replaceChildren(...probs.map((p) => {
    const d = document.createElement("div");
    d.style.height = `${Math.max(1, p * 100)}%`;
    d.title = p.toFixed(3);
    return d;
  }));
  return probs;
}

try {
  const model = await loadModel(new URL("./models/silero_vad_v5.onnx", location.href), {
    kernels: params.get("kernels") ?? "auto",
    // Threads need a cross-origin isolated page (COOP + COEP headers); without them the
    // engine runs on one thread and the summary says why.
    threads: params.has("threads") ? Number(params.get("threads")) : "auto",
  });
  const s = model.summary();
  $("variant").textContent = s.kernels.variant;
  $("reason").textContent = s.kernels.reason;
  $("threads").textContent = `${s.threads.count} (${s.threads.reason})`;
  const probs = await analyse(model, testSignal(24));
  $("result").textContent = JSON.stringify({
    variant: s.kernels.variant,
    threads: s.threads,
    probs,
  });
  $("result").dataset.ready = "1";
  $("file").addEventListener("change", async (e) => {
    try {
      $("error").textContent = "";
      await analyse(model, readWav(await e.target.files[0].arrayBuffer()));
    } catch (err) {
      $("error").textContent = err.message;
    }
  });
} catch (e) {
  $("error").textContent = `${e.name}: ${e.message}`;
}

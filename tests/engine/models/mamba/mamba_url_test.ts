/**
 * Mamba checkpoints over HTTP, as from a Hugging Face `resolve/main` base URL (no trailing
 * slash): a single model.safetensors and a sharded one (index + shards) give the same logits
 * as the directory; a cut-off shard, a missing file and a broken config.json are typed errors
 * naming the file. Also a sharded checkpoint in a directory (its shards read tensor by tensor).
 */
import { deepStrictEqual, rejects } from "node:assert/strict";
import { ModelFormatError } from "../../../../engine/errors.ts";
import { loadMamba } from "../../../../engine/models/mamba/mamba.ts";
import { serveRanges } from "../../../_range_server.ts";

const FIXTURE = new URL("../../../fixtures/mamba", import.meta.url).pathname;

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

/** Writes the named tensors of a safetensors file as a new file (its own offsets). */
function safetensorsSubset(file: Uint8Array, names: string[]): Uint8Array<ArrayBuffer> {
  const headerLen = Number(new DataView(file.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen))) as Header;
  const data = file.subarray(8 + headerLen);
  const out: Header = {};
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const name of names) {
    const [a, b] = header[name].data_offsets;
    out[name] = { ...header[name], data_offsets: [at, at + b - a] };
    parts.push(data.subarray(a, b));
    at += b - a;
  }
  const text = new TextEncoder().encode(JSON.stringify(out));
  const bytes = new Uint8Array(8 + text.length + at);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  let o = 8 + text.length;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return bytes;
}

/** The fixture's tensor names split in two shards: layer 0's, and the rest. */
function twoShards(model: Uint8Array): { first: string[]; rest: string[] } {
  const headerLen = Number(new DataView(model.buffer).getBigUint64(0, true));
  const names = Object.keys(
    JSON.parse(new TextDecoder().decode(model.subarray(8, 8 + headerLen))),
  ).filter((n) => n !== "__metadata__");
  return {
    first: names.filter((n) => n.includes("layers.0.")),
    rest: names.filter((n) => !n.includes("layers.0.")),
  };
}

Deno.test("Mamba loads from a base URL, single-file and sharded, with the directory's logits", async () => {
  const model = await Deno.readFile(`${FIXTURE}/model.safetensors`);
  const config = await Deno.readFile(`${FIXTURE}/config.json`);
  const { first, rest } = twoShards(model);
  const weightMap = Object.fromEntries([
    ...first.map((n) => [n, "model-00001-of-00002.safetensors"]),
    ...rest.map((n) => [n, "model-00002-of-00002.safetensors"]),
  ]);
  const sites: Record<string, Record<string, Uint8Array<ArrayBuffer> | "500">> = {
    plain: { "config.json": config, "model.safetensors": model },
    sharded: {
      "config.json": config,
      "model.safetensors.index.json": new TextEncoder().encode(
        JSON.stringify({ metadata: {}, weight_map: weightMap }),
      ),
      "model-00001-of-00002.safetensors": safetensorsSubset(model, first),
      "model-00002-of-00002.safetensors": safetensorsSubset(model, rest),
    },
    cut: { "config.json": config, "model.safetensors": model.slice(0, model.length >> 1) },
    noweights: { "config.json": config },
    badconfig: { "config.json": config.slice(0, 20), "model.safetensors": model },
    // Files that exist but fail: a server error is reported, not taken for a missing file.
    broken: { "config.json": config, "model.safetensors": model, "tokenizer.json": "500" },
    brokenweights: { "config.json": config, "model.safetensors": "500" },
  };
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const [, site, file] = new URL(req.url).pathname.split("/");
    requested.push(`${site}/${file}`);
    const body = sites[site]?.[file];
    if (body === "500") return new Response("server error", { status: 500 });
    return body ? new Response(body) : new Response("not found", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const prompt = [72, 101, 108, 108, 111];
    const local = await loadMamba(FIXTURE);
    const want = [...local.forward(prompt)];
    local.dispose();
    for (const site of ["plain", "sharded"]) {
      const m = await loadMamba(`${base}/${site}`);
      deepStrictEqual([...m.forward(prompt)], want, site);
      m.dispose();
    }
    deepStrictEqual(requested.includes("sharded/model-00002-of-00002.safetensors"), true);
    const fails = (site: string, pattern: RegExp) =>
      rejects(
        loadMamba(`${base}/${site}`),
        (e) => e instanceof ModelFormatError && pattern.test(e.message),
        site,
      );
    await fails("cut", /model\.safetensors.*(past|truncated|ends|bytes)/);
    await fails(
      "noweights",
      /neither model\.safetensors, model\.qsp nor model\.safetensors\.index\.json/,
    );
    await fails("badconfig", /"config\.json" is not valid JSON/);
    await fails("broken", /tokenizer\.json.*HTTP 500/);
    await fails("brokenweights", /model\.safetensors.*HTTP 500/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("Mamba loads a sharded checkpoint from a directory; a tensor in two shards or a missing shard is a typed error", async () => {
  const model = await Deno.readFile(`${FIXTURE}/model.safetensors`);
  const { first, rest } = twoShards(model);
  const dir = await Deno.makeTempDir();
  const writeIndex = (map: Record<string, string>) =>
    Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({ metadata: {}, weight_map: map }),
    );
  try {
    await Deno.copyFile(`${FIXTURE}/config.json`, `${dir}/config.json`);
    await Deno.writeFile(`${dir}/a.safetensors`, safetensorsSubset(model, first));
    await Deno.writeFile(`${dir}/b.safetensors`, safetensorsSubset(model, rest));
    await writeIndex(Object.fromEntries([
      ...first.map((n) => [n, "a.safetensors"]),
      ...rest.map((n) => [n, "b.safetensors"]),
    ]));
    const prompt = [72, 101, 108, 108, 111];
    const local = await loadMamba(FIXTURE);
    const want = [...local.forward(prompt)];
    local.dispose();
    const sharded = await loadMamba(dir);
    deepStrictEqual([...sharded.forward(prompt)], want);
    sharded.dispose();
    // The norm of layer 0 in both shards.
    const twice = first[0];
    await Deno.writeFile(`${dir}/b.safetensors`, safetensorsSubset(model, [...rest, twice]));
    await rejects(
      loadMamba(dir),
      (e) =>
        e instanceof ModelFormatError &&
        e.message.includes(`tensor "${twice}" is in both "a.safetensors" and "b.safetensors"`),
    );
    await Deno.remove(`${dir}/b.safetensors`);
    await rejects(
      loadMamba(dir),
      (e) => e instanceof ModelFormatError && /b\.safetensors/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Mamba over HTTP reads model.safetensors tensor by tensor with Range requests, never whole", async () => {
  const model = await Deno.readFile(`${FIXTURE}/model.safetensors`);
  const files = {
    "config.json": await Deno.readFile(`${FIXTURE}/config.json`),
    "model.safetensors": model,
  };
  const prompt = [72, 101, 108, 108, 111];
  const local = await loadMamba(FIXTURE);
  const want = [...local.forward(prompt)];
  local.dispose();
  const log: string[] = [];
  const server = serveRanges(files, log);
  try {
    const m = await loadMamba(`http://127.0.0.1:${server.addr.port}`);
    deepStrictEqual([...m.forward(prompt)], want);
    m.dispose();
    const weights = log.filter((l) => l.startsWith("model.safetensors"));
    deepStrictEqual(weights.filter((l) => l.endsWith("full")), [], "no whole download");
    // The fixture (about 0.5 MB) fits one read window: the probe serves every tensor.
    deepStrictEqual(weights.length, 1, weights.join(", "));
  } finally {
    await server.shutdown();
  }
  // A server that sends other bytes than asked for is a typed error, not wrong weights.
  const liar = serveRanges(files, [], true);
  try {
    await rejects(
      loadMamba(`http://127.0.0.1:${liar.addr.port}`),
      (e) => e instanceof ModelFormatError && /model\.safetensors/.test(e.message),
    );
  } finally {
    await liar.shutdown();
  }
});

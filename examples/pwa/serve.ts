/**
 * Serves the PWA on 127.0.0.1: the page, the engine bundle (built into dist/ first) and the
 * silero VAD model from its npm package. `deno task serve:pwa [port] [--no-isolation]`.
 *
 * By default every response carries the cross-origin isolation headers (COOP + COEP) that
 * browsers require for SharedArrayBuffer, so the engine can use worker threads;
 * `--no-isolation` leaves them out to show the one-thread fallback and its explanation.
 */
import { buildBundle } from "../../bundle/build.ts";
import { realModel } from "../../tests/_models.ts";

/** What the PWA serves: the engine bundle built into `dir`/dist and the model file. */
export interface PwaBuild {
  /** The directory holding dist/. */
  dir: string;
  /** The bundle's file names in dist/. */
  files: string[];
  /** Path of the silero VAD model. */
  model: string;
}

/**
 * Builds the bundle into `dir`/dist once; any number of handlers may serve it (a second build
 * into the same directory could rename chunks under a handler that already listed them).
 */
export async function buildPwa(dir: string): Promise<PwaBuild> {
  const { files } = await buildBundle(`${dir}/dist`);
  const model = await realModel("@ricky0123/vad-web", "silero_vad_v5.onnx");
  return { dir, files: files.map((f) => f.name), model };
}

/** A request handler for the PWA over one build. */
export function pwaHandler(
  { dir, files, model }: PwaBuild,
  options: { isolated?: boolean } = {},
): (req: Request) => Promise<Response> {
  const isolation: Record<string, string> = options.isolated
    ? {
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    }
    : {};
  const page = new URL("./", import.meta.url);
  const list = [
    "./",
    "index.html",
    "app.mjs",
    "manifest.webmanifest",
    "icon.svg",
    "models/silero_vad_v5.onnx",
    ...files.map((f) => `dist/${f}`),
  ];
  const types: Record<string, string> = {
    html: "text/html",
    mjs: "text/javascript",
    js: "text/javascript",
    json: "application/json",
    webmanifest: "application/manifest+json",
    svg: "image/svg+xml",
    onnx: "application/octet-stream",
  };
  return async (req) => {
    let path = new URL(req.url).pathname.replace(/^\/+/, "");
    if (path === "" || path.endsWith("/")) path += "index.html";
    if (path.includes("..")) return new Response("forbidden", { status: 403 });
    const type = types[path.split(".").pop()!] ?? "application/octet-stream";
    if (path === "files.json") {
      return Response.json(list.map((f) => new URL(f, req.url).href), { headers: isolation });
    }
    const file = path === "models/silero_vad_v5.onnx"
      ? model
      : path.startsWith("dist/")
      ? `${dir}/${path}`
      : new URL(path, page).pathname;
    try {
      return new Response(await Deno.readFile(file), {
        headers: { "content-type": type, ...isolation },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  };
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "quartet-pwa-" });
  const isolated = !Deno.args.includes("--no-isolation");
  const handler = pwaHandler(await buildPwa(dir), { isolated });
  const port = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 8080);
  Deno.serve({ hostname: "127.0.0.1", port }, handler);
  console.log(
    `PWA at http://127.0.0.1:${port}/ (engine bundle in ${dir}; ` +
      `${isolated ? "cross-origin isolated: threads available" : "not isolated: one thread"})`,
  );
}

/**
 * Bundles the engine for browsers, Node and workers with esbuild: `dist/quartet.mjs` (ES
 * module, minified), chunks that load on first use (the ONNX importer, the kernel build in
 * use, the TF.js and sparse package readers, Mamba and safetensors, worker threads, the
 * pruner…) and each kernel build as a `.wasm` file beside them, fetched relative to its chunk
 * (read from disk for file: URLs). Op files load on first use too, each its own chunk. Prints
 * raw and gzip sizes per file and, per kernel build, the payload of running an ONNX model with
 * no op and with every op (a model downloads the first plus its ops; see budget.json).
 *
 *   deno task bundle            (writes dist/)
 *   deno run -A bundle/build.ts <outdir>
 */
import * as esbuild from "npm:esbuild@0.28.2";
import { gzipSync } from "node:zlib";
import { OP_TYPES, opFiles } from "../engine/ops/registry.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The kernel builds, best last. */
export const KERNEL_VARIANTS = ["scalar", "simd", "relaxed"] as const;

/** Maps `npm:name@version/sub` to the copy Deno installed in node_modules/.deno. */
const npmSpecifiers: esbuild.Plugin = {
  name: "npm-specifiers",
  setup(build) {
    build.onResolve({ filter: /^npm:/ }, async (args) => {
      const m = args.path.match(/^npm:((?:@[^/]+\/)?[^@/]+)@([^/]+)(\/.*)?$/);
      if (!m) return { errors: [{ text: `Unpinned npm specifier "${args.path}"` }] };
      const [, name, version, sub] = m;
      const dir = `${ROOT}node_modules/.deno/${name.replace("/", "+")}@${version}/node_modules`;
      const r = await build.resolve(`${name}${sub ?? ""}`, { resolveDir: dir, kind: args.kind });
      if (r.errors.length) return { errors: r.errors };
      return { path: r.path };
    });
  },
};

/**
 * Ships each kernel build as its `.wasm` file instead of the base64 module of the source tree
 * (a third smaller, and compiled while it streams): `kernels-as/build/quartet_<v>.ts` becomes
 * a module whose `wasmUrl()` locates the copied file next to the chunk (engine/wasm/kernels.ts
 * loads either form).
 */
const kernelFiles: esbuild.Plugin = {
  name: "kernel-files",
  setup(build) {
    const filter = /kernels-as\/build\/quartet_(scalar|simd|relaxed)\.ts$/;
    build.onLoad({ filter }, (args) => ({
      contents: `import file from "./${
        args.path.match(filter)![0].split("/").pop()!
          .replace(/\.ts$/, ".wasm")
      }";\n` +
        "export function wasmUrl() { return new URL(file, import.meta.url); }\n",
      resolveDir: args.path.replace(/[^/]*$/, ""),
      loader: "js",
    }));
  },
};

/**
 * Minified classes lose their names; the public ones (the error classes report theirs as
 * `error.name`) get them back, which costs far less than esbuild's keepNames on every
 * function.
 */
function publicClassNames(exported: ReadonlySet<string>): esbuild.Plugin {
  return {
    name: "public-class-names",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes("/node_modules/")) return undefined;
        const source = await Deno.readTextFile(args.path);
        const names = [...source.matchAll(/^export class (\w+)/gm)].map((m) => m[1])
          .filter((n) => exported.has(n));
        if (names.length === 0) return undefined;
        const list = names.map((n) => `[${n}, ${JSON.stringify(n)}]`).join(", ");
        return {
          contents: `${source}\nfor (const [c, n] of [${list}] as const) ` +
            `Object.defineProperty(c, "name", { value: n });\n`,
          loader: "ts",
        };
      });
    },
  };
}

/** One output file of the bundle. */
export interface BundleFile {
  /** File name in the output directory. */
  name: string;
  /** Raw size. */
  bytes: number;
  /** Size gzipped (level 9). */
  gzip: number;
  /** The source a lazily imported chunk starts from. */
  entryPoint?: string;
  /** Files it imports before it runs. */
  imports: string[];
  /** Files it imports on demand (`import()`), and the `.wasm` files it locates. */
  lazy: string[];
}

/** Sizes of what the bundle ships, per file. */
export interface BundleReport {
  /** Every output file. */
  files: BundleFile[];
}

/** Builds the bundle into `outdir`; returns the file sizes. */
export async function buildBundle(outdir: string): Promise<BundleReport> {
  const mod = await Deno.readTextFile(`${ROOT}mod.ts`);
  const exported = new Set(
    [...mod.matchAll(/^export \{([^}]*)\}/gm)].flatMap((m) => m[1].split(",").map((s) => s.trim())),
  );
  try {
    const result = await esbuild.build({
      entryPoints: { quartet: `${ROOT}mod.ts` },
      outdir,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      minify: true,
      metafile: true,
      external: ["node:*"],
      loader: { ".wasm": "file" },
      plugins: [npmSpecifiers, kernelFiles, publicClassNames(exported)],
      logLevel: "error",
    });
    const base = (path: string) => path.split("/").pop()!;
    const files = Object.entries(result.metafile.outputs).map(([path, o]) => ({
      name: base(path),
      bytes: o.bytes,
      gzip: gzipSync(Deno.readFileSync(path), { level: 9 }).length,
      entryPoint: o.entryPoint,
      imports: o.imports.filter((i) => i.kind === "import-statement").map((i) => base(i.path)),
      lazy: o.imports.filter((i) =>
        i.kind === "dynamic-import" && !i.external || i.kind === "file-loader"
      )
        .map((i) => base(i.path)),
    }));
    // Hashed names change with the code: drop what earlier builds left in the directory.
    const current = new Set(files.map((f) => f.name));
    for (const e of Deno.readDirSync(outdir)) {
      if (e.isFile && /\.(mjs|wasm)$/.test(e.name) && !current.has(e.name)) {
        Deno.removeSync(`${outdir}/${e.name}`);
      }
    }
    return { files };
  } finally {
    await esbuild.stop();
  }
}

/**
 * The files a host downloads to load and run an ONNX model on one kernel build: the entry and
 * the chunks it imports, the ONNX importer's chunks, the kernel build's chunk and `.wasm`, and
 * the chunks of the op files the model runs (`opFiles`: names in engine/ops/, see `opFiles` in
 * engine/ops/registry.ts). Every other chunk (other ops, TF.js and sparse package readers,
 * safetensors and Mamba loading, super-resolution and PNG, the pruner, the tokenizer library,
 * the other kernel builds) loads only when used.
 */
export function onnxPayload(
  report: BundleReport,
  variant: string,
  opFiles: readonly string[],
): BundleFile[] {
  const byName = new Map(report.files.map((f) => [f.name, f]));
  const roots = report.files.filter((f) =>
    f.name === "quartet.mjs" || f.entryPoint?.endsWith("engine/formats/onnx/mod.ts") ||
    f.entryPoint?.endsWith(`kernels-as/build/quartet_${variant}.ts`) ||
    opFiles.some((o) => f.entryPoint?.endsWith(`engine/ops/${o}`))
  );
  const out = new Set<BundleFile>();
  const visit = (f: BundleFile) => {
    if (out.has(f)) return;
    out.add(f);
    for (const name of f.imports) visit(byName.get(name)!);
    for (const name of f.lazy) if (name.endsWith(".wasm")) visit(byName.get(name)!);
  };
  roots.forEach(visit);
  return [...out];
}

const kb = (n: number) => `${(n / 1000).toFixed(1).padStart(7)} kB`;

if (import.meta.main) {
  const budget = JSON.parse(await Deno.readTextFile(`${ROOT}bundle/budget.json`));
  const out = Deno.args[0] ?? `${ROOT}dist`;
  const report = await buildBundle(out);
  for (const f of report.files) {
    console.log(`${f.name.padEnd(30)} ${kb(f.bytes)} ${kb(f.gzip)} gzip`);
  }
  const payloads = { "no op": [], "every op": opFiles(OP_TYPES) };
  for (const v of KERNEL_VARIANTS) {
    for (const [what, ops] of Object.entries(payloads)) {
      const p = onnxPayload(report, v, ops);
      const sum = (k: "bytes" | "gzip") => p.reduce((s, f) => s + f[k], 0);
      console.log(
        `ONNX payload, ${v.padEnd(7)} ${what.padEnd(8)} ${kb(sum("bytes"))} ` +
          `${kb(sum("gzip"))} gzip  (${sum("bytes")} bytes in ${p.length} files)`,
      );
    }
  }
  console.log(
    `A model downloads the core ("no op") and the chunks of its ops; the budget for one model ` +
      `is ${budget.maxBytesPerBuild} bytes (checked on PP-OCR cls and silero VAD by ` +
      `tests/runtimes/bundle_test.ts).`,
  );
}

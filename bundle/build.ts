/**
 * Bundles the engine for browsers, Node and workers with esbuild: `dist/quartet.mjs` (ES module,
 * minified) plus one lazily imported chunk per kernel build (the Wasm embedded as base64), so a
 * host only downloads the build it runs. Prints raw and gzip sizes.
 *
 *   deno task bundle            (writes dist/)
 *   deno run -A bundle/build.ts <outdir>
 */
import * as esbuild from "npm:esbuild@0.28.2";
import { gzipSync } from "node:zlib";

const ROOT = new URL("../", import.meta.url).pathname;

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

/** Sizes of what the bundle ships, per file. */
export interface BundleReport {
  /** Every output file; `entryPoint` is the source a lazily imported chunk starts from. */
  files: { name: string; bytes: number; gzip: number; entryPoint?: string }[];
}

/** Builds the bundle into `outdir`; returns the file sizes. */
export async function buildBundle(outdir: string): Promise<BundleReport> {
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
      // Error classes report their names (ShapeError…) from `constructor.name`.
      keepNames: true,
      metafile: true,
      external: ["node:*"],
      plugins: [npmSpecifiers],
      logLevel: "error",
    });
    const files = Object.entries(result.metafile.outputs).map(([path, o]) => {
      const bytes = Deno.readFileSync(path);
      return {
        name: path.split("/").pop()!,
        bytes: o.bytes,
        gzip: gzipSync(bytes).length,
        entryPoint: o.entryPoint,
      };
    });
    return { files };
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) {
  const out = Deno.args[0] ?? `${ROOT}dist`;
  const report = await buildBundle(out);
  for (const f of report.files) {
    console.log(
      `${f.name.padEnd(28)} ${(f.bytes / 1024).toFixed(1).padStart(8)} KB  ` +
        `${(f.gzip / 1024).toFixed(1).padStart(7)} KB gzip`,
    );
  }
}

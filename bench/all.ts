/**
 * Runs every benchmark (each `bench/*.ts` not starting with "_"), one process at a time so
 * they do not compete for the cores. Pass names to run a subset: `deno task bench gemm sr`.
 */
const dir = new URL("./", import.meta.url);
const skip = new Set(["all.ts", "sparse_calibrate.ts"]);
const wanted = new Set(Deno.args.filter((a) => !a.startsWith("-")));
const benches = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && !n.startsWith("_") && !skip.has(n))
  .filter((n) => wanted.size === 0 || wanted.has(n.replace(/\.ts$/, "")))
  .sort();
let failed = 0;
for (const [i, name] of benches.entries()) {
  console.error(`[${i + 1}/${benches.length}] bench/${name}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(name, dir).pathname, ...Deno.args.filter((a) => a.startsWith("-"))],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`bench/${name} failed with exit code ${code}`);
    failed++;
  }
}
console.error(
  `\n${benches.length - failed} of ${benches.length} benchmarks ran; results in bench/results/`,
);
if (failed) Deno.exit(1);

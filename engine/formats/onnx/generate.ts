/**
 * Regenerates `gen/onnx_pb.ts` from `onnx.proto` with buf and protoc-gen-es (both ship their
 * binaries in npm packages), then pins the runtime import to a full npm specifier so the
 * generated module also loads when mod.ts is imported by URL.
 *
 *   deno run -A engine/formats/onnx/generate.ts
 */
const here = new URL("./", import.meta.url).pathname;
const tools = await Deno.makeTempDir({ prefix: "quartet-protogen-" });
const run = async (cmd: string, args: string[], cwd: string) => {
  const { code, stderr } = await new Deno.Command(cmd, { args, cwd, stderr: "piped" }).output();
  if (code !== 0) {
    throw new Error(
      `Command failed: ${cmd} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`,
    );
  }
};
await run("npm", [
  "install",
  "--no-save",
  "--prefix",
  tools,
  "@bufbuild/buf@1.75.0",
  "@bufbuild/protoc-gen-es@2.17.0",
], here);
await Deno.writeTextFile(
  `${tools}/buf.gen.yaml`,
  `version: v2\nplugins:\n  - local: ${tools}/node_modules/.bin/protoc-gen-es\n    out: ${tools}/out\n    opt: target=ts\n`,
);
await run(`${tools}/node_modules/.bin/buf`, [
  "generate",
  here,
  "--template",
  `${tools}/buf.gen.yaml`,
  "--path",
  `${here}onnx.proto`,
], here);
let ts = await Deno.readTextFile(`${tools}/out/onnx_pb.ts`);
ts = ts.replaceAll('"@bufbuild/protobuf/codegenv2"', '"npm:@bufbuild/protobuf@2.17.0/codegenv2"')
  .replaceAll('"@bufbuild/protobuf"', '"npm:@bufbuild/protobuf@2.17.0"');
await Deno.mkdir(`${here}gen`, { recursive: true });
await Deno.writeTextFile(`${here}gen/onnx_pb.ts`, ts);
await run(Deno.execPath(), ["fmt", `${here}gen/onnx_pb.ts`], here);
await Deno.remove(tools, { recursive: true });
console.log("wrote engine/formats/onnx/gen/onnx_pb.ts");

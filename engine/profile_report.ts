/**
 * Turns a profiled run into files people open: a Chrome trace (chrome://tracing, Perfetto or
 * the browser's performance panel) and an SVG chart of the slowest layers.
 *
 * @module
 */
import type { NodeProfile } from "./executor.ts";
import { escapeXml } from "./escape_xml.ts";

/** Chrome trace-event JSON of one run: one complete event per node, in execution order. */
export function chromeTrace(profile: readonly NodeProfile[], name = "quartet run"): string {
  let ts = 0;
  const events = profile.map((p) => {
    const e = {
      name: p.node,
      cat: p.op,
      ph: "X",
      ts: Math.round(ts * 1000) / 1000,
      dur: Math.round(p.ms * 1000 * 1000) / 1000,
      pid: 1,
      tid: 1,
      args: { op: p.op, outputs: p.outputs.map((d) => `[${d.join(", ")}]`).join(" ") },
    };
    ts += p.ms * 1000;
    return e;
  });
  return JSON.stringify({ traceEvents: events, displayTimeUnit: "ms", otherData: { name } });
}

/** Horizontal bars of the `top` slowest nodes and the time per op type, as SVG. */
export function profileSvg(profile: readonly NodeProfile[], top = 20): string {
  const total = profile.reduce((s, p) => s + p.ms, 0);
  const byOp = new Map<string, number>();
  for (const p of profile) byOp.set(p.op, (byOp.get(p.op) ?? 0) + p.ms);
  const rows: [string, number][] = [
    ...[...profile].sort((a, b) => b.ms - a.ms).slice(0, top).map((p) =>
      [`${p.node} (${p.op})`, p.ms] as [string, number]
    ),
  ];
  const ops = [...byOp].sort((a, b) => b[1] - a[1]);
  const width = 900;
  const left = 330;
  const max = Math.max(...rows.map((r) => r[1]), ...ops.map((o) => o[1]), 1e-9);
  let y = 50;
  const parts: string[] = [];
  const section = (title: string, items: [string, number][], color: string) => {
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${title}</text>`);
    y += 22;
    for (const [label, ms] of items) {
      const w = Math.max(1, (ms / max) * (width - left - 120));
      parts.push(
        `<text x="${left - 8}" y="${y + 11}" font-size="11" text-anchor="end">${
          escapeXml(label.length > 48 ? label.slice(0, 47) + "…" : label)
        }</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="14" fill="${color}"/>`,
        `<text x="${left + w + 6}" y="${y + 11}" font-size="11">${ms.toFixed(3)} ms (${
          (100 * ms / total).toFixed(1)
        } %)</text>`,
      );
      y += 18;
    }
    y += 12;
  };
  section(`Slowest ${rows.length} nodes`, rows, "#1b9e77");
  section("Time per operator type", ops, "#7570b3");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" ` +
    `font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="28" font-size="16" font-weight="bold">Profile: ${profile.length} nodes, ${
      total.toFixed(2)
    } ms</text>${parts.join("")}</svg>\n`;
}

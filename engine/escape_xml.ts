/**
 * Text made safe inside XML (the SVG charts of profiles, pruning reports and benchmarks).
 *
 * @module
 */

/** `s` with &, < and > escaped. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

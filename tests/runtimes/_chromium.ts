/**
 * Headless Chromium for the runtime tests: Debian's build, installed with apt-get when missing
 * (CI machines run as root with Debian's packages reachable), launched through playwright-core.
 */
import { type BrowserContext, chromium } from "npm:playwright-core@1.65.1";

const CHROMIUM = "/usr/bin/chromium";

async function ensureChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
    return;
  } catch {
    // Install it below.
  }
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "chromium"]]) {
    const out = await new Deno.Command("apt-get", { args, stdout: "null", stderr: "piped" })
      .output();
    if (out.code !== 0) {
      throw new Error(
        `Chromium is missing and "apt-get ${args.join(" ")}" failed: ` +
          new TextDecoder().decode(out.stderr),
      );
    }
  }
}

/** A fresh Chromium profile; close the context, then remove `profile`. */
export async function launchChromium(): Promise<{ context: BrowserContext; profile: string }> {
  await ensureChromium();
  const profile = await Deno.makeTempDir({ prefix: "quartet-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 390, height: 844 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { context, profile };
}

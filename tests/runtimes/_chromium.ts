/**
 * Headless Chromium for the runtime tests: Debian's build, installed with apt-get when missing
 * (CI machines run as root with Debian's packages reachable), launched through playwright-core.
 */
import { type BrowserContext, chromium } from "npm:playwright-core@1.65.1";
import { withInstallLock } from "../../engine/models/model_store.ts";

const CHROMIUM = "/usr/bin/chromium";

async function chromiumInstalled(): Promise<boolean> {
  try {
    await Deno.stat(CHROMIUM);
    return true;
  } catch {
    return false;
  }
}

/** Runs apt-get, waiting (up to 10 minutes) while another apt or dpkg holds its locks. */
async function aptGet(args: string[]): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const out = await new Deno.Command("apt-get", {
      args: ["-o", "DPkg::Lock::Timeout=600", ...args],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.code === 0) return;
    const err = new TextDecoder().decode(out.stderr);
    if (!/Could not get lock|Unable to lock/.test(err) || Date.now() - t0 > 600_000) {
      throw new Error(`Chromium is missing and "apt-get ${args.join(" ")}" failed: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/**
 * Installs Chromium when missing. Test files run in parallel and each may need it: the model
 * store's install lock lets one install while the others wait, then find it installed.
 */
async function ensureChromium(): Promise<void> {
  if (await chromiumInstalled()) return;
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  await withInstallLock(`${tmp}/quartet-chromium-install`, async () => {
    if (await chromiumInstalled()) return;
    await aptGet(["update", "-qq"]);
    await aptGet(["install", "-y", "-qq", "chromium"]);
  });
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

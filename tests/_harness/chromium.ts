/**
 * Headless Chromium for tests that need a real browser (the dashboard, WebSocket cables from a
 * page): which binary this machine has, and one way to start it on a fresh profile.
 */

import { type Background, spawn } from "./process.ts";
import { findTool } from "./requirements.ts";

/** The Chromium binary on PATH (Debian's `chromium` first), or "chromium" to be reported missing. */
export const CHROMIUM =
  ["chromium", "chromium-browser", "google-chrome"].find((t) => findTool(t)) ??
    "chromium";

/** Start headless Chromium on `profile` (a fresh directory) with `args` (URLs, more flags). */
export function spawnChromium(profile: string, args: string[]): Background {
  return spawn([
    CHROMIUM,
    "--headless=new",
    "--no-sandbox", // tests run as root in a container; the pages are our own
    "--disable-gpu",
    "--disable-dev-shm-usage",
    `--user-data-dir=${profile}`,
    ...args,
  ], { name: "chromium" });
}

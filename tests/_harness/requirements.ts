/**
 * What a real-peer test needs from the machine — root, network namespaces, /dev/net/tun, programs
 * on PATH — checked synchronously when the test is registered, so a test that cannot run is
 * reported as *ignored with the reason in its name* rather than failing or silently passing
 * (ARCHITECTURE §7: .ci/run installs every tool and fails if any test was ignored).
 */

/** Everything a test may require. Tools are program names looked up on PATH. */
export interface Requirements {
  /** Needs uid 0 (namespaces, TAPs, raw captures). Default true for peer tests. */
  root?: boolean;
  /** Needs /dev/net/tun (TAP devices). */
  tun?: boolean;
  tools?: string[];
}

const toolCache = new Map<string, string | undefined>();

/** The absolute path of a program on PATH, or undefined. */
export function findTool(name: string): string | undefined {
  if (toolCache.has(name)) return toolCache.get(name);
  let found: string | undefined;
  if (name.includes("/")) {
    found = isExecutable(name) ? name : undefined;
  } else {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      if (dir === "") continue;
      const p = `${dir}/${name}`;
      if (isExecutable(p)) {
        found = p;
        break;
      }
    }
  }
  toolCache.set(name, found);
  return found;
}

/** Why the requirements are not met ("needs root; missing tools: tshark"), or undefined. */
export function missingRequirements(req: Requirements): string | undefined {
  const why: string[] = [];
  if ((req.root ?? true) && Deno.uid() !== 0) why.push("needs root (network namespaces, TAPs)");
  if (req.tun && !isCharDevice("/dev/net/tun")) why.push("needs /dev/net/tun");
  const missing = (req.tools ?? []).filter((t) => findTool(t) === undefined);
  if (missing.length > 0) why.push(`missing tools: ${missing.join(", ")}`);
  return why.length === 0 ? undefined : why.join("; ");
}

/**
 * Throw unless the requirements are met: for code paths that are reached only after the test
 * registration check (a helper that needs one more tool).
 */
export function requireTools(tools: string[]): void {
  const why = missingRequirements({ root: false, tools });
  if (why) throw new Error(`Cannot run: ${why}`);
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function isCharDevice(path: string): boolean {
  try {
    return Deno.statSync(path).isCharDevice === true;
  } catch {
    return false;
  }
}

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
  /**
   * A check of its own (a kernel feature, say), run only when everything else is met: returns
   * why it is unmet, or undefined.
   */
  probe?: () => string | undefined;
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
  if (why.length === 0 && req.probe) {
    const unmet = req.probe();
    if (unmet !== undefined) why.push(unmet);
  }
  return why.length === 0 ? undefined : why.join("; ");
}

/** What `Deno.test` needs to skip a test whose requirements are not met, visibly. */
export interface Gate {
  ignore: boolean;
  /** Why it is ignored, or undefined. */
  reason: string | undefined;
  /** The test name, with ` [ignored: REASON]` appended when ignored. */
  name(base: string): string;
}

/** A gate for `Deno.test` from requirements (root is required unless `root: false`). */
export function gate(req: Requirements): Gate {
  const reason = missingRequirements(req);
  return {
    ignore: reason !== undefined,
    reason,
    name: (base) => (reason === undefined ? base : `${base} [ignored: ${reason}]`),
  };
}

/**
 * A gate for a plain `Deno.test` that needs programs (and, only when asked, root or a TUN device):
 *
 * ```ts
 * const t = requireTools(["tshark"]);
 * Deno.test({ name: t.name("tshark reads our pcap"), ignore: t.ignore, fn: async () => {} });
 * ```
 */
export function requireTools(tools: string[], more: Omit<Requirements, "tools"> = {}): Gate {
  return gate({ root: false, ...more, tools });
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

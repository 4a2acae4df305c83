/**
 * A LAN for testing weft's user-space stack against the Linux kernel: a weft switch holds a TAP
 * (`wt0`) inside a fresh namespace whose kernel is at 10.88.0.1/24 and fd88::1/64; weft stacks
 * (`weft serve`, `weft ping`, `weft fetch`) plug into the switch by `vde://DIR`.
 */

import type { Lab } from "./lab.ts";
import type { Netns } from "./netns.ts";
import type { Background } from "./process.ts";
import { waitUntil } from "./process.ts";
import type { WeftSwitch } from "./weft.ts";

export interface KernelLan {
  ns: Netns;
  sw: WeftSwitch;
  /** The kernel's addresses, without prefix. */
  kernel4: string;
  kernel6: string;
}

export async function kernelLan(lab: Lab, label = "k"): Promise<KernelLan> {
  const ns = await lab.netns(label);
  const sw = await lab.weftSwitch(["--connect", `tap://wt0?netns=${ns.name}`]);
  await waitUntil(`wt0 in ${ns.name}`, async () => {
    return (await ns.exec(["ip", "link", "show", "wt0"])).success;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  await ns.linkUp("wt0");
  await ns.addAddress("wt0", "10.88.0.1/24");
  await ns.addAddress("wt0", "fd88::1/64");
  return { ns, sw, kernel4: "10.88.0.1", kernel6: "fd88::1" };
}

/** Start `weft serve ARGS… --switch vde://DIR` and wait for its address lines. */
export async function startServe(lab: Lab, lan: KernelLan, args: string[]): Promise<Background> {
  const p = lab.spawnWeft(["serve", "--switch", lan.sw.url, ...args], { name: "weft serve" });
  await p.waitForOutput(/^weft serve: ready$/m, 45_000);
  return p;
}

/**
 * An HTTP server in `ns` that stores PUT bodies under `dir` and serves GETs from it (python's
 * http.server has no upload): the kernel side of "a weft client uploads, byte-exact".
 */
export async function startUploadServer(
  ns: Netns,
  bind: string,
  port: number,
  dir: string,
): Promise<Background> {
  const script = [
    "import http.server, os, sys",
    "class H(http.server.SimpleHTTPRequestHandler):",
    "    protocol_version = 'HTTP/1.1'",
    "    def do_PUT(self):",
    "        n = int(self.headers.get('content-length', '-1'))",
    "        path = os.path.join(sys.argv[2], os.path.basename(self.path))",
    "        with open(path, 'wb') as f:",
    "            if n >= 0:",
    "                left = n",
    "                while left > 0:",
    "                    b = self.rfile.read(min(left, 1 << 20))",
    "                    if not b: break",
    "                    f.write(b); left -= len(b)",
    "            else:",
    "                while True:",
    "                    line = self.rfile.readline().strip()",
    "                    size = int(line.split(b';')[0], 16)",
    "                    if size == 0:",
    "                        self.rfile.readline(); break",
    "                    f.write(self.rfile.read(size)); self.rfile.readline()",
    "        self.send_response(201); self.send_header('content-length', '0'); self.end_headers()",
    "http.server.ThreadingHTTPServer.address_family = __import__('socket').AF_INET6 if ':' in sys.argv[1] else __import__('socket').AF_INET",
    "os.chdir(sys.argv[2])",
    "s = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[3])), H)",
    "print('listening', flush=True)",
    "s.serve_forever()",
  ].join("\n");
  const p = ns.spawn(["python3", "-u", "-c", script, bind, dir, String(port)], {
    name: "upload server",
  });
  await p.waitForOutput(/listening/, 15_000);
  return p;
}

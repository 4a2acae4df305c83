/**
 * Small helpers shared by the VDE client (vde.ts) and server (vde_server.ts): paths and the ctl
 * stream connection.
 */

export function absolutePath(p: string): string {
  const joined = p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  const out: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

export async function isSocket(path: string): Promise<boolean> {
  return (await Deno.lstat(path).catch(() => undefined))?.isSocket === true;
}

export async function writeAll(conn: Deno.UnixConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

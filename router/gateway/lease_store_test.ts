import { assert, assertEquals, assertRejects } from "@std/assert";
import { ConfigError } from "../../core/errors.ts";
import { format_addr, parse_addr } from "../../stack/addr.ts";
import { LeaseStore } from "./lease_store.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wft-ls-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lease store: a missing file is empty; saved leases are there after a crash (re-open, no close)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/leases.json`;
    const s = await LeaseStore.open(path);
    assertEquals(s.load(), []);
    s.save([
      { mac: 0x02000000005c, addr: parse_addr("10.0.0.100")!, expires: 1_800_000_000_000 },
      { mac: 0x02000000005d, addr: parse_addr("10.0.0.101")!, expires: 1, name: "vm" },
    ]);
    // No temp file is left behind; the file is private.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["leases.json"]);
    assertEquals(Deno.statSync(path).mode! & 0o777, 0o600);
    const again = (await LeaseStore.open(path)).load();
    assertEquals(again.map((l) => [l.mac, format_addr(l.addr), l.expires, l.name]), [
      [0x02000000005c, "10.0.0.100", 1_800_000_000_000, undefined],
      [0x02000000005d, "10.0.0.101", 1, "vm"],
    ]);
  });
});

Deno.test("lease store: a stale temp file from a crash mid-write is ignored; the old table stays", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/leases.json`;
    const s = await LeaseStore.open(path);
    s.save([{ mac: 1, addr: parse_addr("10.0.0.5")!, expires: 5 }]);
    // Killed between writing the temp file and the rename: a half-written temp file.
    await Deno.writeTextFile(`${path}.tmp`, '{"version":1,"lea');
    const t = await LeaseStore.open(path);
    assertEquals(t.load().length, 1);
    t.save([]);
    assertEquals((await LeaseStore.open(path)).load(), []);
  });
});

Deno.test("lease store: a corrupt file is a ConfigError naming it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/leases.json`;
    for (
      const text of [
        "{not json",
        '{"version":2,"leases":[]}',
        '{"version":1,"leases":[{"mac":"zz","addr":"10.0.0.1","expires":1}]}',
        '{"version":1,"leases":[{"mac":"02:00:00:00:00:01","addr":"fd00::1","expires":1}]}',
        '{"version":1,"leases":[{"mac":"02:00:00:00:00:01","addr":"10.0.0.1"}]}',
      ]
    ) {
      await Deno.writeTextFile(path, text);
      const e = await assertRejects(() => LeaseStore.open(path), ConfigError);
      assert(e.message.includes(path), e.message);
    }
  });
});

Deno.test("lease store: a failed write throws and keeps the previous table", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sub/leases.json`;
    await Deno.mkdir(`${dir}/sub`);
    const s = await LeaseStore.open(path);
    s.save([{ mac: 1, addr: parse_addr("10.0.0.5")!, expires: 5 }]);
    await Deno.remove(`${dir}/sub`, { recursive: true });
    let threw = false;
    try {
      s.save([]);
    } catch {
      threw = true;
    }
    assert(threw);
    assertEquals(s.load().length, 1);
  });
});

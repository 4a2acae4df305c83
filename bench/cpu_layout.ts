/**
 * Where the benchmark's processes run and what they cost: CPU time from /proc, and the two CPU
 * layouts of bench/api_load.ts — "shared" (everything floats over the CPUs at default priority)
 * and "pinned" (the system under test alone on CPU 0, the load generators on CPU 1) — set with
 * util-linux's taskset and chrt and the nice values of /proc.
 */

import { setPriority } from "node:os";

export type Layout = "shared" | "pinned";

/** CPU seconds (utime + stime, /proc/PID/stat fields 14–15, all threads) of a process. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * The main thread's time on a CPU and waiting on a run queue, in seconds
 * (/proc/PID/task/PID/schedstat, ns). The main thread is the event loop: frames and API alike.
 */
export async function mainThreadSched(pid: number): Promise<{ run: number; wait: number }> {
  const f = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/schedstat`)).trim().split(" ");
  return { run: Number(f[0]) / 1e9, wait: Number(f[1]) / 1e9 };
}

/** Idle seconds (idle + iowait, /proc/stat) of each CPU. */
export async function cpuIdle(): Promise<number[]> {
  const out: number[] = [];
  for (const line of (await Deno.readTextFile("/proc/stat")).split("\n")) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    out[Number(m[1])] = (f[3] + f[4]) / 100;
  }
  return out;
}

async function taskset(args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command("taskset", { args, stdout: "null", stderr: "piped" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** ≥ 2 CPUs and a taskset that can change this process's affinity. */
export async function canPin(): Promise<boolean> {
  return navigator.hardwareConcurrency >= 2 &&
    await taskset(["-a", "-p", "-c", `0-${navigator.hardwareConcurrency - 1}`, `${Deno.pid}`]);
}

async function chrt(args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command("chrt", { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/**
 * Set the nice value of a process against the rest of the machine; best effort (needs
 * CAP_SYS_NICE to lower it). Two levels, as Linux has them: each thread's own (setpriority is
 * per thread), which orders the threads of its session, and the autogroup's
 * (/proc/PID/autogroup, CONFIG_SCHED_AUTOGROUP), which orders sessions — and every process the
 * benchmark starts is a session of its own (`detached`), so without the second the first changes
 * nothing against other processes.
 */
async function niceProcess(pid: number, value: number): Promise<void> {
  try {
    for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        setPriority(Number(t.name), value);
      } catch {
        // The thread ended, or no CAP_SYS_NICE: the layout still stands, with less protection.
      }
    }
    await Deno.writeTextFile(`/proc/${pid}/autogroup`, `${value}`).catch(() => {});
  } catch {
    // The process is gone.
  }
}

/**
 * Every thread of the switch, of vde_blast and of this process: floating, or CPU 0 and CPU 1.
 * Pinned, the switch also runs at nice -20 (`niceProcess`), so that what else runs on the
 * machine stays off "its" CPU: without it, other processes took 5 % of CPU 0 in idle windows and
 * 18 % in loaded ones (they move there when the clients keep CPU 1 busier), and that, not the
 * API, was half the measured loss. And vde_blast is made SCHED_FIFO, so that on CPU 1 it runs the
 * moment a frame comes back, ahead of the API clients (before, the switch idled up to 10 % of
 * CPU 0 in loaded windows, waiting for it). Not in "shared": an RT task that wakes preempts
 * whatever runs on its CPU, the switch included, even with the other CPU idle (the kernel looks
 * for another CPU only when the running task is RT, kernel/sched/rt.c select_task_rq_rt) —
 * measured: the switch at 63 % of a CPU with 28 % of the machine idle. There everything runs at
 * the default priority, as the processes of a small host would.
 * Returns whether vde_blast got SCHED_FIFO.
 */
export async function pinLayout(
  layout: Layout,
  switchPid: number,
  blastPid: number,
): Promise<boolean> {
  const all = `0-${navigator.hardwareConcurrency - 1}`;
  const [sw, us] = layout === "pinned" ? ["0", "1"] : [all, all];
  if (!await taskset(["-a", "-p", "-c", sw, `${switchPid}`])) {
    throw new Error(`taskset could not pin the switch (pid ${switchPid})`);
  }
  for (const pid of [blastPid, Deno.pid]) {
    if (!await taskset(["-a", "-p", "-c", us, `${pid}`])) {
      throw new Error(`taskset could not pin pid ${pid} (vde_blast or the benchmark)`);
    }
  }
  await niceProcess(switchPid, layout === "pinned" ? -20 : 0);
  if (layout === "pinned") {
    return await chrt(["-f", "-a", "-p", "1", `${blastPid}`]);
  }
  await chrt(["-o", "-a", "-p", "0", `${blastPid}`]);
  return false;
}

/** Medians and formatting for benchmark reports. */

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run `fn` `runs` times and return the median of what it measured. */
export async function medianOf(runs: number, fn: () => number | Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(await fn());
  return median(xs);
}

export function fmt(n: number, digits = 3): string {
  if (n >= 1e6) return `${(n / 1e6).toPrecision(digits)} M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(digits)} k`;
  return n.toPrecision(digits);
}

/** A markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (r: (string | number)[]) => `| ${r.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

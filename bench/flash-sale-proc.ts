/**
 * CPU time and peak memory of a process and its threads, from Linux /proc
 * (the flash-sale bench measures its server child and itself separately).
 * stat(5): utime and stime are fields 14 and 15, in USER_HZ ticks (100 per
 * second); status: VmHWM is the peak resident set size. Where /proc is
 * absent the figures are null rather than made up.
 */
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100;

function cpuSecondsOfStat(path: string): number | null {
  try {
    const stat = readFileSync(path, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** User + system CPU seconds of every thread of process `pid` so far. */
export function processCpuSeconds(pid: number): number | null {
  return cpuSecondsOfStat(`/proc/${pid}/stat`);
}

/** CPU seconds of each live thread of `pid`, by thread id. */
export function threadsCpuSeconds(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    const seconds = cpuSecondsOfStat(`/proc/${pid}/task/${tid}/stat`);
    if (seconds !== null) threads.set(Number(tid), seconds);
  }
  return threads;
}

/** Peak resident set size of `pid` in bytes (VmHWM), or null. */
export function peakRssBytes(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** CPU used by each thread between two `threadsCpuSeconds` samples, busiest first, the main thread named. */
export function threadsCpuBetween(
  pid: number,
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  threadsMax: number,
): { thread: string; cpuSeconds: number }[] {
  const rows = [...after].map(([tid, seconds]) => ({
    thread: tid === pid ? 'main' : `tid ${tid}`,
    cpuSeconds: Math.round((seconds - (before.get(tid) ?? 0)) * 100) / 100,
  }));
  return rows
    .filter((r) => r.cpuSeconds > 0)
    .sort((a, b) => b.cpuSeconds - a.cpuSeconds)
    .slice(0, threadsMax);
}

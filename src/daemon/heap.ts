/**
 * The daemon's heap, tuned for what it does: nothing for hours, then one burst over every agent. V8's
 * defaults suit a process that stays busy: during a pass over 10,000 agents the young generation grew to its
 * 2 × 16 MB and stayed there, and the old generation held up to 120 MB of the pass's garbage (30 MB live)
 * before its next full collection, so the daemon's RSS after a pass landed anywhere in 160-235 MB. With these
 * two flags, the young generation keeps its first size (its scavenges are more frequent and as cheap), and
 * the old generation is collected once it grows a tenth past what was live: 116-118 MB after the same passes,
 * about 5 MB less when idle, and rotations as fast within this machine's noise (docs/performance.md).
 *
 * Both are read by V8 whenever it sizes a generation, so setting them as the daemon starts, before its first
 * pass, takes effect; the CLI's one-shot commands keep V8's defaults.
 */
import v8 from "node:v8";

export const DAEMON_V8_FLAGS = ["--semi-space-growth-factor=1", "--heap-growing-percent=10"] as const;

export function tuneHeapForDaemon(): void {
  for (const flag of DAEMON_V8_FLAGS) v8.setFlagsFromString(flag);
}

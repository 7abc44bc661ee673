/**
 * Our record of recovery (reconcile/recovery.ts), a 0600 file beside the daemon's state file: which profiles we
 * recovered (ours from then on, kept fresh), and the gateway's digests of refresh tokens the Claude login held, seen
 * in profiles that held them, which later prove a failed fence of such a profile was the login's. Digests only,
 * never a token. `sync`, `recover` and the daemon all write it, each re-reading it under its lock.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { PRIVATE_DIR_MODE, writeFileAtomically } from "../fs/atomic-write.js";
import { readRegularFile } from "../fs/read-file.js";
import { errnoCode } from "../core/errors.js";
import { withLock } from "../stores/locks/lock.js";
import { sidecarLock } from "../stores/locks/sidecar-lock.js";

/** A profile id of one gateway (its state dir) that we recovered, with the login (its profile id) it follows. */
export interface RecoveredProfile {
  stateDir: string;
  profileId: string;
  login: string;
  at: number;
}

export interface RecoveryState {
  recovered: RecoveredProfile[];
  /** Newest last. */
  refreshDigests: string[];
}

/** Each digest is one refresh generation of one profile; a few hundred outlive any failed fence worth proving. */
export const MAX_DIGESTS = 256;

const DIGEST = /^[a-f0-9]{64}$/;

const empty = (): RecoveryState => ({ recovered: [], refreshDigests: [] });

/** Whatever the file holds, as a state: entries of the wrong shape are dropped, a corrupt file reads as empty. */
export function parseRecoveryState(text: string): RecoveryState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return empty();
  }
  const { recovered, refreshDigests } = (json ?? {}) as { recovered?: unknown; refreshDigests?: unknown };
  const isEntry = (e: unknown): e is RecoveredProfile => {
    const r = e as Partial<RecoveredProfile> | null;
    return (
      typeof r?.stateDir === "string" &&
      typeof r.profileId === "string" &&
      typeof r.login === "string" &&
      typeof r.at === "number"
    );
  };
  return {
    recovered: Array.isArray(recovered) ? recovered.filter(isEntry) : [],
    refreshDigests: Array.isArray(refreshDigests)
      ? refreshDigests.filter((d): d is string => typeof d === "string" && DIGEST.test(d)).slice(-MAX_DIGESTS)
      : [],
  };
}

/** Where a recovered profile is: its gateway's state dir and its id. */
export type Place = Pick<RecoveredProfile, "stateDir" | "profileId">;

/**
 * The state with `digests` noted (each once, newest last), `recovered` entries added (an entry already there keeps
 * its time unless another login recovered it since), and `released` ones, no longer ours, dropped.
 */
export function noted(
  state: RecoveryState,
  digests: readonly string[],
  recovered: readonly RecoveredProfile[],
  released: readonly Place[] = [],
): RecoveryState {
  const same = (a: Place, b: Place) => a.stateDir === b.stateDir && a.profileId === b.profileId;
  const changed = recovered
    .filter((n, i) => recovered.findIndex((m) => same(m, n)) === i)
    .filter((n) => !state.recovered.some((r) => same(r, n) && r.login === n.login));
  const kept = state.recovered.filter((r) => !changed.some((n) => same(r, n)) && !released.some((n) => same(r, n)));
  const fresh = digests.filter((d, i) => DIGEST.test(d) && digests.indexOf(d) === i);
  const older = state.refreshDigests.filter((d) => !fresh.includes(d));
  return { recovered: [...kept, ...changed], refreshDigests: [...older, ...fresh].slice(-MAX_DIGESTS) };
}

export function isRecovered(state: RecoveryState, stateDir: string, profileId: string): RecoveredProfile | undefined {
  return state.recovered.find((r) => r.stateDir === stateDir && r.profileId === profileId);
}

export class RecoveryBook {
  constructor(
    readonly file: string,
    private readonly lockTimeoutMs: number,
  ) {}

  async read(): Promise<RecoveryState> {
    try {
      return parseRecoveryState(await readRegularFile(this.file, { followSymlinks: false }));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return empty();
      throw err;
    }
  }

  /** Notes what a pass or a command found, under the file's lock; writes only when something is new. */
  async note(
    digests: readonly string[],
    recovered: readonly RecoveredProfile[] = [],
    released: readonly Place[] = [],
  ): Promise<void> {
    if (digests.length === 0 && recovered.length === 0 && released.length === 0) return;
    await mkdir(path.dirname(this.file), { recursive: true, mode: PRIVATE_DIR_MODE });
    await withLock(sidecarLock(this.file, this.lockTimeoutMs), async () => {
      const before = await this.read();
      const after = noted(before, digests, recovered, released);
      const newDigests = after.refreshDigests.filter((d) => !before.refreshDigests.includes(d));
      if (newDigests.length === 0 && isDeepStrictEqual(after.recovered, before.recovered)) return;
      await writeFileAtomically(this.file, `${JSON.stringify({ version: 1, ...after }, null, 2)}\n`);
    });
  }
}

/**
 * Watches a folder that may not exist yet, or may be deleted and made again. chokidar loses a watch whose
 * own folder goes away, so we watch from the nearest existing ancestor above the folder and ignore
 * everything that is not on the way down to it or inside it.
 */
import { type FSWatcher, existsSync, lstatSync, readdirSync, watch } from "node:fs";
import path from "node:path";
import { watch as chokidarWatch } from "chokidar";
import { asError, errnoCode } from "../core/errors.js";

export type WatchEvent = "add" | "addDir" | "change" | "unlink" | "unlinkDir";

export interface FolderWatchOptions {
  /** How many folder levels below `folder` matter: 0 means files directly in it. */
  depth: number;
  /** Whether a path inside `folder` (given relative to it) matters. */
  accept(relative: string): boolean;
  /**
   * Folders (relative to `folder`, at most `depth` deep) whose entries are seen through one plain `fs.watch` of ours:
   * chokidar reports such a folder made or removed, but does not watch it. chokidar would give each file it
   * tracks an inotify watch besides its folder's (10,000 more for 10,000 agents), and re-read the folder
   * (a readdir and an lstat per entry) on every event in it, which our own writes cause by the thousand. Each
   * event on an accepted entry of such a folder (written, renamed into place, removed) arrives as `change`,
   * none dropped: chokidar drops a second `change` of a file within 50 ms.
   */
  leafFolder?(relative: string): boolean;
  /**
   * How many levels of accepted folders below a leaf folder are watched the same way (0: only the leaf):
   * chokidar keeps a few kilobytes of state per folder it watches, 100 MB of RSS for 10,000 agents.
   * Such a folder made or removed is reported as `addDir` or `unlinkDir`.
   */
  leafDepth?: number;
  onEvent(event: WatchEvent, file: string): void;
  onError(err: Error): void;
}

export interface FolderWatch {
  /**
   * Resolves once the initial scan is done, so no event after this is missed. Made with the watcher: a
   * listener added later can miss a `ready` that chokidar already emitted, and wait forever.
   */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function watchFolder(folder: string, options: FolderWatchOptions): FolderWatch {
  // Start above the folder itself, so that deleting the folder does not end the watch.
  let base = path.dirname(folder);
  while (!existsSync(base) && path.dirname(base) !== base) base = path.dirname(base);
  const levels = path.relative(base, folder).split(path.sep).length;
  const inside = (p: string) => p.startsWith(folder + path.sep);
  const isLeaf = (p: string) => options.leafFolder !== undefined && inside(p) && options.leafFolder(rel(p));
  const rel = (p: string) => path.relative(folder, p);
  const watcher = chokidarWatch(base, {
    ignoreInitial: true,
    depth: levels + options.depth,
    ignored: (p: string) => {
      if (p === base || p === folder || folder.startsWith(p + path.sep)) return false;
      // A leaf's entries are ours to watch: chokidar, which tracks each file it has seen, loses a file that is
      // made and removed within its own bookkeeping (a SQLite reader's -wal) and then misses it for good.
      return !inside(p) || !options.accept(rel(p)) || isLeaf(path.dirname(p));
    },
  });
  const leaves = new LeafWatches(
    options.leafDepth ?? 0,
    (file) => options.accept(rel(file)),
    (event, file) => options.onEvent(event, file),
    (err) => options.onError(err),
  );
  watcher.on("all", (event, file) => {
    if (!inside(file)) return;
    if (event === "addDir" && isLeaf(file)) leaves.add(file, 0, true);
    if (event === "unlinkDir" && isLeaf(file)) leaves.remove(file);
    options.onEvent(event as WatchEvent, file);
  });
  watcher.on("error", (err) => options.onError(asError(err)));
  const ready = new Promise<void>((resolve) =>
    watcher.once("ready", () => {
      // The leaf folders chokidar found: it lists them (at its depth limit) without watching them.
      for (const [dir, names] of Object.entries(watcher.getWatched()))
        for (const name of names) {
          const leaf = path.join(dir, name);
          if (isLeaf(leaf) && isFolder(leaf)) leaves.add(leaf);
        }
      resolve();
    }),
  );
  return {
    ready,
    close: async () => {
      leaves.close();
      await watcher.close();
    },
  };
}

function isFolder(dir: string): boolean {
  try {
    return lstatSync(dir).isDirectory();
  } catch {
    return false;
  }
}

interface LeafWatch {
  /** None while parked: a leaf whose accepted folder is watched needs no watch of its own (see LeafWatches). */
  watcher?: FSWatcher;
  /** How many folder levels below the leaf this folder is: 0 for the leaf itself. */
  level: number;
  /** The folders below this one that have their own watch. */
  below?: Set<string>;
  /** The folder's identity when its watch was made: an event named like the folder itself may be its removal. */
  identity?: string;
}

/**
 * One `fs.watch` per leaf folder, and per accepted folder up to `levels` below it, reporting each event's
 * entry by its full path: a folder below a leaf as `addDir` or `unlinkDir`, anything else as `change`.
 *
 * A leaf whose accepted folders are all watched is parked: its own watch is closed, so an agent costs one
 * inotify watch, not two (10,000 watch handles fewer, and half as much of the per-user inotify limit, 8,192 by
 * default before Linux 5.11). A leaf has one accepted folder (an agent's `agent`), so while that exists nothing
 * else in the leaf matters; its removal, which its own watch reports as an event named like itself, brings the
 * leaf's watch back.
 */
class LeafWatches {
  private readonly watches = new Map<string, LeafWatch>();
  private closed = false;

  constructor(
    private readonly levels: number,
    private readonly accept: (file: string) => boolean,
    private readonly onEntry: (event: WatchEvent, file: string) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /**
   * Watches `dir`, anew when it was watched already: a folder made again under the same name is another
   * folder. Its accepted folders are watched too, after its own watch so that none made meanwhile is missed;
   * `report` says them as `addDir` (a folder made after the initial scan).
   */
  add(dir: string, level = 0, report = false): void {
    if (this.closed) return;
    this.remove(dir);
    const entry: LeafWatch = { level };
    if (!this.open(dir, entry)) return;
    this.watches.set(dir, entry);
    if (level > 0) {
      const parent = this.watches.get(path.dirname(dir));
      if (parent) (parent.below ??= new Set()).add(dir);
    }
    this.scan(dir, entry, report);
  }

  /** Makes `entry`'s watch of `dir`; false when the folder is gone (its parent's watch reports that). */
  private open(dir: string, entry: LeafWatch): boolean {
    try {
      entry.watcher = watch(dir, { persistent: true }, (_event, name) => {
        if (typeof name === "string" && name !== "") this.onName(dir, entry, name);
      });
    } catch (err) {
      // Removed meanwhile: its parent's watch reports that. Anything else is a real failure.
      if (errnoCode(err) !== "ENOENT" && errnoCode(err) !== "ENOTDIR") this.onError(asError(err));
      return false;
    }
    entry.watcher.on("error", (err) => {
      this.remove(dir);
      this.unpark(path.dirname(dir));
      if (isFolder(dir)) this.onError(err);
    });
    if (entry.level > 0) entry.identity = identity(dir);
    return true;
  }

  /** Watches the accepted folders in `dir`, then parks it when it is a leaf that has one. */
  private scan(dir: string, entry: LeafWatch, report: boolean): void {
    if (entry.level >= this.levels) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // removed meanwhile: its parent's watch reports that
    }
    for (const name of names) {
      const sub = path.join(dir, name);
      if (!this.accept(sub) || !isFolder(sub)) continue;
      this.add(sub, entry.level + 1, report);
      if (report) this.onEntry("addDir", sub);
    }
    this.park(entry);
  }

  private park(entry: LeafWatch): void {
    if (entry.level !== 0 || !entry.below?.size) return;
    entry.watcher?.close();
    entry.watcher = undefined;
  }

  /** Watches a parked leaf again (its folder below is gone), and watches what it holds now. */
  private unpark(leafDir: string): void {
    const leaf = this.watches.get(leafDir);
    if (!leaf || leaf.watcher || this.closed) return;
    // Watched before it is read: a folder made again meanwhile is found by the read, any later by the watch.
    if (this.open(leafDir, leaf)) this.scan(leafDir, leaf, true);
    else this.remove(leafDir);
  }

  private onName(dir: string, entry: LeafWatch, name: string): void {
    // inotify names a watched folder's own removal or move by the folder's name; an entry of that name inside
    // it would leave the folder as it was.
    if (entry.level > 0 && name === path.basename(dir) && identity(dir) !== entry.identity) return this.lost(dir);
    const file = path.join(dir, name);
    if (!this.accept(file)) return;
    if (entry.level < this.levels) {
      if (isFolder(file)) {
        this.add(file, entry.level + 1, true);
        this.onEntry("addDir", file);
        return this.park(entry);
      }
      if (this.watches.has(file)) {
        this.remove(file);
        return this.onEntry("unlinkDir", file);
      }
    }
    this.onEntry("change", file);
  }

  /** A watched folder below a leaf was removed or moved away: said so, and its parked leaf watched again. */
  private lost(dir: string): void {
    if (!this.watches.has(dir)) return;
    this.remove(dir);
    this.onEntry("unlinkDir", dir);
    this.unpark(path.dirname(dir));
  }

  remove(dir: string): void {
    const entry = this.watches.get(dir);
    if (!entry) return;
    entry.watcher?.close();
    this.watches.delete(dir);
    for (const sub of entry.below ?? []) this.remove(sub);
    if (entry.level > 0) this.watches.get(path.dirname(dir))?.below?.delete(dir);
  }

  close(): void {
    this.closed = true;
    for (const { watcher } of this.watches.values()) watcher?.close();
    this.watches.clear();
  }
}

/** A folder's device and inode, or undefined when it is gone or no folder. */
function identity(dir: string): string | undefined {
  try {
    const stat = lstatSync(dir);
    return stat.isDirectory() ? `${stat.dev}:${stat.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Watches a folder that may not exist yet, or may be deleted and made again. chokidar loses a watch whose
 * own folder goes away, so we watch from the nearest existing ancestor above the folder and ignore
 * everything that is not on the way down to it or inside it.
 */
import { type FSWatcher, existsSync, lstatSync, watch } from "node:fs";
import path from "node:path";
import { watch as chokidarWatch } from "chokidar";
import { errnoCode } from "../core/errors.js";

export type WatchEvent = "add" | "addDir" | "change" | "unlink" | "unlinkDir";

export interface FolderWatchOptions {
  /** How many folder levels below `folder` matter: 0 means files directly in it. */
  depth: number;
  /** Whether a path inside `folder` (given relative to it) matters. */
  accept(relative: string): boolean;
  /**
   * Folders (relative to `folder`, at `depth`) whose entries are seen through one plain `fs.watch` of ours:
   * chokidar reports such a folder made or removed, but does not watch it. chokidar would give each file it
   * tracks an inotify watch besides its folder's (10,000 more for 10,000 agents), and re-read the folder
   * (a readdir and an lstat per entry) on every event in it, which our own writes cause by the thousand. Each
   * event on an accepted entry of such a folder (written, renamed into place, removed) arrives as `change`,
   * none dropped: chokidar drops a second `change` of a file within 50 ms.
   */
  leafFolder?(relative: string): boolean;
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
      return !inside(p) || !options.accept(rel(p));
    },
  });
  const leaves = new LeafWatches(
    (file) => {
      if (options.accept(rel(file))) options.onEvent("change", file);
    },
    (err) => options.onError(err),
  );
  watcher.on("all", (event, file) => {
    if (!inside(file)) return;
    if (event === "addDir" && isLeaf(file)) leaves.add(file);
    if (event === "unlinkDir" && isLeaf(file)) leaves.remove(file);
    options.onEvent(event as WatchEvent, file);
  });
  watcher.on("error", (err) => options.onError(err instanceof Error ? err : new Error(String(err))));
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

/** One `fs.watch` per leaf folder, reporting each event's entry by its full path. */
class LeafWatches {
  private readonly watches = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    private readonly onEntry: (file: string) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Watches `dir`, anew when it was watched already: a folder made again under the same name is another folder. */
  add(dir: string): void {
    if (this.closed) return;
    this.remove(dir);
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: true }, (_event, name) => {
        if (typeof name === "string" && name !== "") this.onEntry(path.join(dir, name));
      });
    } catch (err) {
      // Removed meanwhile: chokidar reports that as unlinkDir. Anything else is a real failure.
      if (errnoCode(err) !== "ENOENT" && errnoCode(err) !== "ENOTDIR") this.onError(asError(err));
      return;
    }
    watcher.on("error", (err) => {
      this.remove(dir);
      if (isFolder(dir)) this.onError(err);
    });
    this.watches.set(dir, watcher);
  }

  remove(dir: string): void {
    this.watches.get(dir)?.close();
    this.watches.delete(dir);
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watches.values()) watcher.close();
    this.watches.clear();
  }
}

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/**
 * Watches a folder that may not exist yet, or may be deleted and made again. chokidar loses a watch whose
 * own folder goes away, so we watch from the nearest existing ancestor above the folder and ignore
 * everything that is not on the way down to it or inside it.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { watch } from "chokidar";

export type WatchEvent = "add" | "addDir" | "change" | "unlink" | "unlinkDir";

export interface FolderWatchOptions {
  /** How many folder levels below `folder` matter: 0 means files directly in it. */
  depth: number;
  /** Whether a path inside `folder` (given relative to it) matters. */
  accept(relative: string): boolean;
  /**
   * Files (relative to `folder`) seen through their folder's own watch rather than one of their own: chokidar
   * gives every file it tracks an inotify watch besides its folder's, which for 10,000 agents is 10,000 more.
   * Each raw event on such a file (written, renamed into place, removed) arrives as `change`.
   */
  seenFromFolder?(relative: string): boolean;
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
  const watcher = watch(base, {
    ignoreInitial: true,
    depth: levels + options.depth,
    ignored: (p: string) => {
      if (p === base || p === folder || folder.startsWith(p + path.sep)) return false;
      if (!p.startsWith(folder + path.sep)) return true;
      const relative = path.relative(folder, p);
      return !options.accept(relative) || options.seenFromFolder?.(relative) === true;
    },
  });
  if (options.seenFromFolder)
    watcher.on("raw", (_event: string, name: unknown, details: unknown) => {
      // A folder's watch names the entry that changed; a file's own watch (none of these) names itself.
      const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (typeof name !== "string" || typeof watched !== "string" || name === "") return;
      const file = path.join(watched, name);
      if (file.startsWith(folder + path.sep) && options.seenFromFolder?.(path.relative(folder, file)))
        options.onEvent("change", file);
    });
  watcher.on("all", (event, file) => {
    if (file.startsWith(folder + path.sep)) options.onEvent(event as WatchEvent, file);
  });
  watcher.on("error", (err) => options.onError(err instanceof Error ? err : new Error(String(err))));
  const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return { ready, close: () => watcher.close() };
}

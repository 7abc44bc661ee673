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
      return !options.accept(path.relative(folder, p));
    },
  });
  watcher.on("all", (event, file) => {
    if (file.startsWith(folder + path.sep)) options.onEvent(event as WatchEvent, file);
  });
  watcher.on("error", (err) => options.onError(err instanceof Error ? err : new Error(String(err))));
  const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  return { ready, close: () => watcher.close() };
}

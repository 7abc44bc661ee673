/**
 * Watches one file, in a folder that may not exist yet or may be deleted and made again, with node's own
 * fs.watch: one inotify watch on the folder (while it is missing, on its nearest existing ancestor). chokidar,
 * which watches the state dir, re-reads a folder and lstats each of its entries on every event before it
 * reports the change: on the credentials' path that delayed every rotation, once per entry of ~/.claude.
 */
import { type FSWatcher, existsSync, watch } from "node:fs";
import path from "node:path";
import { asError } from "../core/errors.js";
import { fileIdentity } from "../fs/identity.js";
import type { FolderWatch } from "./watch.js";

/** A watch that could not be made (or failed) is tried again after this, never in a loop. */
const RETRY_MS = 1_000;

export interface FileWatchOptions {
  /** The file was written, renamed into place or removed, or its folder appeared with the file inside. */
  onEvent(): void;
  onError(err: Error): void;
}

export function watchFile(file: string, options: FileWatchOptions): FolderWatch {
  const folder = path.dirname(file);
  const name = path.basename(file);
  let watcher: FSWatcher | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const failed = (err: unknown) => {
    options.onError(asError(err));
    watcher?.close();
    watcher = undefined;
    clearTimeout(retry);
    retry = setTimeout(() => arm(false), RETRY_MS);
  };

  /**
   * Watches the folder, or the nearest ancestor that exists, and moves the watch whenever that changes (the
   * folder removed or replaced, a folder on the way down made). The first arm does not report a file that is
   * already there: the daemon's first pass reads it.
   */
  const arm = (initial: boolean) => {
    watcher?.close();
    watcher = undefined;
    if (closed) return;
    let base = folder;
    while (!existsSync(base) && path.dirname(base) !== base) base = path.dirname(base);
    const atFolder = base === folder;
    const identity = fileIdentity(base);
    const below = atFolder ? undefined : path.join(base, path.relative(base, folder).split(path.sep)[0]!);
    try {
      watcher = watch(base, (_event, entry) => {
        if (atFolder && entry === name) options.onEvent();
        if (fileIdentity(base) !== identity || (below !== undefined && existsSync(below))) arm(false);
      });
    } catch (err) {
      return failed(err);
    }
    watcher.on("error", failed);
    // A folder made with the file already inside (or the file written before this watch began) is seen now.
    if (!initial && atFolder && existsSync(file)) options.onEvent();
  };

  arm(true);
  return {
    ready: Promise.resolve(),
    close: () => {
      closed = true;
      clearTimeout(retry);
      watcher?.close();
      watcher = undefined;
      return Promise.resolve();
    },
  };
}

/**
 * Replaces a file the way a crash cannot half-do: temp file in the same folder, fsync, rename, then
 * fsync of the folder so the rename itself survives a power loss. Readers see the old or the new file.
 */
import { open } from "node:fs/promises";
import path from "node:path";
import writeFileAtomic from "write-file-atomic";

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

export async function writeFileAtomically(file: string, content: string): Promise<void> {
  // chown is left at its default: keep the owner of an existing store, so running as root never
  // hands a user's store to root.
  await writeFileAtomic(file, content, { mode: PRIVATE_FILE_MODE, fsync: true });
  await fsyncDir(path.dirname(file));
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename has still happened.
  } finally {
    await handle.close();
  }
}

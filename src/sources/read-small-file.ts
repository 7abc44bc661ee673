import { constants } from "node:fs";
import { open } from "node:fs/promises";

/** Credential files are a few KB; anything near this is garbage, not a login. */
export const MAX_CREDENTIAL_FILE_BYTES = 1024 * 1024;

export class NotARegularFileError extends Error {
  readonly code = "ENOTREG";
}
export class FileTooLargeError extends Error {
  readonly code = "EFBIG";
}

/**
 * Reads a small regular file. Opens non-blocking, so a FIFO planted in its place cannot hang the
 * daemon, and checks type and size on the open handle, so the answer is about the file actually read.
 */
export async function readSmallFile(file: string, maxBytes = MAX_CREDENTIAL_FILE_BYTES): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new NotARegularFileError(`${file} is not a regular file`);
    if (stat.size > maxBytes) throw new FileTooLargeError(`${file} is ${stat.size} bytes, more than ${maxBytes}`);
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

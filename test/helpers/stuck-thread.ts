/**
 * Preloaded into a daemon (`NODE_OPTIONS=--import`) to make it stuck as a hostile FIFO once made it: a file
 * request whose worker thread blocks in open() for good, as a plain read of a FIFO with no writer does.
 */
import { open } from "node:fs";

const fifo = process.env.MAS_TEST_STUCK_FIFO;
if (fifo) open(fifo, "r", () => undefined);

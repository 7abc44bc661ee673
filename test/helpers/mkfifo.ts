import { execFileSync } from "node:child_process";

export const mkfifoSync = (file: string) => execFileSync("mkfifo", [file]);

/** What a pass needs to recover failed refreshes (pass/recover.ts), for `sync` and the daemon alike. */
import type { Config } from "../config/config.js";
import { RecoveryBook } from "./recovery-book.js";
import type { RecoveryContext } from "./recover.js";
import { readLoginAccount } from "../sources/claude-account.js";
import { recoveryFilePath } from "../runtime/files.js";

/** One login's view of the config (`loginConfigs`): its profile id names it in the record. */
export function recoveryContext(login: Config, env: NodeJS.ProcessEnv = process.env): RecoveryContext {
  return {
    book: new RecoveryBook(recoveryFilePath(env), login.lockTimeout),
    auto: login.autoRecover,
    loginId: login.profileId,
    account: (credential) => readLoginAccount(login, credential, env),
  };
}

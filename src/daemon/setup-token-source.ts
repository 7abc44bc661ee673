/**
 * The setup-tokens as the daemon last read them. Kept between passes because the keyring is a native call:
 * they are read again on the refresh-check schedule and after a config reload, and a change runs a full pass.
 */
import { readSetupTokens } from "../sources/setup-token.js";
import type { SetupToken } from "../types.js";

export class SetupTokenSource {
  private tokens: SetupToken[] | undefined;

  constructor(
    private readonly profileId: () => string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The tokens as last read, read first when they never were (or a reload forgot them). */
  async current(): Promise<SetupToken[]> {
    if (!this.tokens) await this.load();
    return this.tokens ?? [];
  }

  /** Reads them again; true when they changed. */
  async load(): Promise<boolean> {
    const tokens = await readSetupTokens(this.profileId(), this.env);
    const changed = JSON.stringify(tokens) !== JSON.stringify(this.tokens);
    this.tokens = tokens;
    return changed;
  }

  /** A reload may have changed where they are kept: the next pass reads them anew. */
  forget(): void {
    this.tokens = undefined;
  }
}

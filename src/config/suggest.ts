/**
 * "Did you mean" for a config key we do not know. A dozen lines of our own rather than a dependency: the keys are
 * short and few, and the rule for when a guess is close enough is ours to choose.
 */

/**
 * Damerau–Levenshtein distance, in its optimal-string-alignment form: insertions, deletions, substitutions, and
 * swaps of two neighbours each cost 1, since a swap (`stateDri`) is as common a typo as a wrong letter.
 */
export function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, beforePrevious[j - 2]! + 1);
      current.push(d);
    }
    [beforePrevious, previous] = [previous, current];
  }
  return previous[b.length]!;
}

/**
 * The known keys nearest to `typed`, all of them when several tie (`stateDirz` is one edit from `stateDir` and from
 * `stateDirs`), or none. Case is ignored, as `profileID` for `profileId` is the likeliest slip in a camelCase name.
 * A key is close enough within a third of its length: one edit in a short key, more in a long one, and never a
 * guess so far off that it would send the admin to the wrong key.
 */
export function nearestKeys(typed: string, known: readonly string[]): string[] {
  const word = typed.toLowerCase();
  let best = Number.POSITIVE_INFINITY;
  let nearest: string[] = [];
  for (const key of known) {
    const limit = Math.max(1, Math.floor(key.length / 3));
    // The distance is at least the difference in length: this also keeps a huge key from costing a huge table.
    if (Math.abs(key.length - word.length) > limit) continue;
    const distance = editDistance(word, key.toLowerCase());
    if (distance > limit || distance > best) continue;
    if (distance < best) [best, nearest] = [distance, []];
    nearest.push(key);
  }
  return nearest;
}

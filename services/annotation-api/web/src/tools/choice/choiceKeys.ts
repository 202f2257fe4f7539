import type { ChoiceGroup } from "../../api/types";
import type { KeyCombo } from "../../lib/keys";

const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];

export interface ChoiceKey {
  group: string;
  option: string;
  keys: string;
  combo: KeyCombo;
}

/**
 * Number keys for choice options, numbered across groups (1..9, then 0). Plain digits when no label hotkey uses
 * a digit; otherwise Shift+digit (matched on the physical key so any layout works).
 */
export function choiceKeys(groups: readonly ChoiceGroup[], reservedKeys: ReadonlySet<string>): ChoiceKey[] {
  const shifted = DIGITS.some((d) => reservedKeys.has(d));
  const out: ChoiceKey[] = [];
  let i = 0;
  for (const group of groups) {
    for (const option of group.options) {
      const digit = DIGITS[i++];
      if (digit === undefined) return out;
      out.push(
        shifted
          ? { group: group.name, option, keys: `Shift+${digit}`, combo: { code: `Digit${digit}`, shift: true } }
          : { group: group.name, option, keys: digit, combo: { key: digit, shift: false } },
      );
    }
  }
  return out;
}

/** The group's value after toggling `option`: radio selects (or clears when already chosen), checkbox toggles. */
export function nextChoiceValue(group: ChoiceGroup, current: string | string[] | undefined, option: string): string | string[] | null {
  if (group.multiple) {
    const list = Array.isArray(current) ? current : current === undefined ? [] : [current];
    return list.includes(option) ? list.filter((o) => o !== option) : group.options.filter((o) => o === option || list.includes(o));
  }
  return current === option ? null : option;
}

// Key combos, matched against KeyboardEvent-like objects so they are testable without a DOM.

export interface KeyCombo {
  /** KeyboardEvent.key, compared case-insensitively ("1", "p", "Enter", "?"). */
  key?: string;
  /** KeyboardEvent.code, for layout-independent keys ("Digit1" with shift). */
  code?: string;
  /** Ctrl, or Cmd on macOS. */
  ctrl?: boolean;
  alt?: boolean;
  /** true/false require/forbid Shift; undefined ignores it (so "?" and capital letters still match). */
  shift?: boolean;
}

export interface KeyEventLike {
  key: string;
  code?: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

export function matchesCombo(combo: KeyCombo, e: KeyEventLike): boolean {
  if (combo.key !== undefined && combo.key.toLowerCase() !== e.key.toLowerCase()) return false;
  if (combo.code !== undefined && combo.code !== e.code) return false;
  if (!!combo.ctrl !== (e.ctrlKey || e.metaKey)) return false;
  if (!!combo.alt !== e.altKey) return false;
  if (combo.shift !== undefined && combo.shift !== e.shiftKey) return false;
  return true;
}

/** True when typing in this element must not trigger shortcuts (inputs that take text, textareas, editables). */
export function isTextField(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).tagName !== "string") return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  if (el.tagName !== "INPUT") return false;
  const type = ((el as HTMLInputElement).type || "text").toLowerCase();
  return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"].includes(type);
}

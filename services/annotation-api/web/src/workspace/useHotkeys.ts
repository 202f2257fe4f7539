import { useEffect, useRef } from "react";
import { findShortcut, type Command, type Shortcut } from "../editor/keymap";
import { isTextField } from "../lib/keys";

/**
 * One window keydown listener: a busy drawing session gets the key first (`intercept`, e.g. Enter closes a
 * polygon), then the shortcuts dispatch their commands (always the latest ones).
 */
export function useHotkeys(
  shortcuts: readonly Shortcut[],
  onCommand: (command: Command) => void,
  intercept?: (e: KeyboardEvent) => boolean,
  enabled = true,
): void {
  const latest = useRef({ shortcuts, onCommand, intercept });
  latest.current = { shortcuts, onCommand, intercept };

  useEffect(() => {
    if (!enabled) return;
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.isComposing || e.defaultPrevented) return;
      const inTextField = isTextField(e.target);
      if (!inTextField && latest.current.intercept?.(e)) {
        e.preventDefault();
        return;
      }
      const shortcut = findShortcut(latest.current.shortcuts, e, inTextField);
      if (!shortcut) return;
      const { command } = shortcut;
      // Enter on a focused button is that button's own click
      const onButton = e.target instanceof HTMLElement && (e.target.tagName === "BUTTON" || e.target.tagName === "A");
      if (command.kind === "submit" && e.key === "Enter" && !e.ctrlKey && !e.metaKey && onButton) return;
      e.preventDefault();
      if (e.repeat && !shortcut.repeat) return;
      latest.current.onCommand(command);
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [enabled]);
}

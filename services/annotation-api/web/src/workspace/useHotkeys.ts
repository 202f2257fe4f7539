import { useEffect, useRef } from "react";
import { findShortcut, type Command, type Shortcut } from "../editor/keymap";
import { isTextField } from "../lib/keys";

const REPEATABLE = new Set<Command["kind"]>(["undo", "redo"]);

/** One window keydown listener dispatching the shortcuts' commands (always the latest ones). */
export function useHotkeys(shortcuts: readonly Shortcut[], onCommand: (command: Command) => void): void {
  const latest = useRef({ shortcuts, onCommand });
  latest.current = { shortcuts, onCommand };

  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.isComposing || e.defaultPrevented) return;
      const shortcut = findShortcut(latest.current.shortcuts, e, isTextField(e.target));
      if (!shortcut) return;
      const { command } = shortcut;
      // Enter on a focused button is that button's own click
      const onButton = e.target instanceof HTMLElement && (e.target.tagName === "BUTTON" || e.target.tagName === "A");
      if (command.kind === "submit" && e.key === "Enter" && !e.ctrlKey && !e.metaKey && onButton) return;
      e.preventDefault();
      if (e.repeat && !REPEATABLE.has(command.kind)) return;
      latest.current.onCommand(command);
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
}

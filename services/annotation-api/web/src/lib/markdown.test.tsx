import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("guidelines markdown", () => {
  it("renders blocks and inline marks as elements, never as HTML", () => {
    const md = "# Boxes\nDraw **tight** boxes, *never* loose.\n\n- one per `person`\n- see [the docs](https://example.org)\n\n1. first\n\n> careful\n\n<b>raw</b> [bad](javascript:alert(1))";
    const { container } = render(<div>{renderMarkdown(md)}</div>);
    expect(container.querySelector("h3")?.textContent).toBe("Boxes");
    expect(container.querySelector("strong")?.textContent).toBe("tight");
    expect(container.querySelector("em")?.textContent).toBe("never");
    expect(container.querySelectorAll("ul li")).toHaveLength(2);
    expect(container.querySelector("code")?.textContent).toBe("person");
    expect(container.querySelector("a")?.getAttribute("href")).toBe("https://example.org");
    expect(container.querySelectorAll("a")).toHaveLength(1); // the javascript: link is text
    expect(container.querySelector("ol li")?.textContent).toBe("first");
    expect(container.querySelector("blockquote")?.textContent).toBe("careful");
    expect(container.querySelector("b")).toBeNull();
    expect(container.textContent).toContain("<b>raw</b>");
  });

  it("hands example fences to the example renderer", () => {
    const md = 'Example:\n\n```example\n{"text": "Ada", "result": []}\n```\n\n```\nplain code\n```';
    const { container } = render(<div>{renderMarkdown(md, { renderExample: (e, key) => <i key={key}>{(e as { text: string }).text}</i> })}</div>);
    expect(container.querySelector("i")?.textContent).toBe("Ada");
    expect(container.querySelector("pre")?.textContent).toBe("plain code");
  });
});

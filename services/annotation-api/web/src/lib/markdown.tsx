// A small, safe Markdown renderer for the schema's guidelines: React elements only (never innerHTML).
// Blocks: headings, paragraphs, lists, block quotes, rules and fenced code; a fence whose language is
// `example` holds a JSON example annotation, drawn by `renderExample`. Inline: code, bold, italic, links
// (http, https, mailto or relative) and images (data: or same-origin URLs: the UI loads nothing else).
import type { ReactNode } from "react";

export interface MarkdownOptions {
  renderExample?(example: unknown, key: string): ReactNode;
}

const SAFE_LINK = /^(https?:|mailto:|\/|#|\.\/)/i;
const SAFE_IMAGE = /^(data:image\/|\/(?!\/))/i;

function inline(text: string, key: string): ReactNode[] {
  const out: ReactNode[] = [];
  const pattern = /(`[^`]+`)|(!\[[^\]]*\]\([^)\s]+\))|(\[[^\]]+\]\([^)\s]+\))|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)/g;
  let last = 0;
  let n = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const token = m[0];
    const k = `${key}-${n++}`;
    if (m[1]) out.push(<code key={k}>{token.slice(1, -1)}</code>);
    else if (m[2]) {
      const [, alt = "", src = ""] = /^!\[([^\]]*)\]\(([^)\s]+)\)$/.exec(token) ?? [];
      out.push(SAFE_IMAGE.test(src) ? <img key={k} src={src} alt={alt} className="md-image" /> : `[image: ${alt}]`);
    } else if (m[3]) {
      const [, label = "", href = ""] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(token) ?? [];
      out.push(
        SAFE_LINK.test(href) ? (
          <a key={k} href={href} target="_blank" rel="noreferrer noopener">
            {inline(label, k)}
          </a>
        ) : (
          label
        ),
      );
    } else if (m[4]) out.push(<strong key={k}>{inline(token.slice(2, -2), k)}</strong>);
    else out.push(<em key={k}>{inline(token.slice(1, -1), k)}</em>);
    last = m.index + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function renderMarkdown(source: string, options: MarkdownOptions = {}): ReactNode[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const out: ReactNode[] = [];
  let i = 0;
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) out.push(<p key={`p${out.length}`}>{inline(paragraph.join(" "), `p${out.length}`)}</p>);
    paragraph = [];
  };
  while (i < lines.length) {
    const line = lines[i]!;
    const key = `b${out.length}`;
    const fence = /^```\s*([\w-]*)\s*$/.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i++]!);
      i++;
      const code = body.join("\n");
      if (fence[1] === "example" && options.renderExample) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(code);
        } catch {
          parsed = undefined;
        }
        out.push(parsed === undefined ? <pre key={key}>{code}</pre> : <div key={key}>{options.renderExample(parsed, key)}</div>);
      } else out.push(<pre key={key}>{code}</pre>);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const level = Math.min(6, heading[1]!.length + 2); // guideline headings sit under the panel's own
      const Tag = `h${level}` as "h3";
      out.push(<Tag key={key}>{inline(heading[2]!, key)}</Tag>);
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push(<hr key={key} />);
      i++;
      continue;
    }
    const bullet = /^\s*([-*+]|\d+[.)])\s+/;
    if (bullet.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const items: ReactNode[] = [];
      while (i < lines.length && bullet.test(lines[i]!)) {
        items.push(<li key={items.length}>{inline(lines[i]!.replace(bullet, ""), `${key}-${items.length}`)}</li>);
        i++;
      }
      out.push(ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>);
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quoted: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i]!)) quoted.push(lines[i++]!.replace(/^>\s?/, ""));
      out.push(<blockquote key={key}>{inline(quoted.join(" "), key)}</blockquote>);
      continue;
    }
    if (line.trim() === "") flush();
    else paragraph.push(line.trim());
    i++;
  }
  flush();
  return out;
}

import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { fakeApi } from "../test/fakeApi";
import type { Project, Task } from "./api/types";
import { App } from "./App";
import { TOKEN_KEY } from "./auth/tokenStore";

const TEXT = "I 😀 met Ana in Paris.";
const project: Project = {
  id: "p1",
  name: "ner",
  schema: {
    modality: "text",
    labels: [{ name: "PER" }, { name: "LOC", color: "#00aa00" }],
    tools: ["span", "choice"],
    choices: [{ name: "lang", options: ["en", "fr"] }],
  },
  policy: {},
};
const task = (id: string, externalId: string, text: string, extra: Partial<Task> = {}): Task => ({
  id,
  project_id: "p1",
  state: "assigned",
  item: { id: `i-${id}`, external_id: externalId, modality: "text", text, media_url: null, meta: {} },
  predictions: [],
  result: null,
  ...extra,
});
// "Paris" is at code point 15 (UTF-16 offset 16, because of the emoji)
const t1 = task("t1", "doc-1", TEXT, { predictions: [{ model_version: "m1", score: 0.9, result: [{ type: "span", label: "LOC", start: 15, end: 20, score: 0.7 }] }] });

/** Select `needle` inside the text container, as a mouse drag would. */
function selectText(needle: string) {
  const root = screen.getByTestId("text-content");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.textContent!.indexOf(needle);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + needle.length);
      window.getSelection()!.removeAllRanges();
      window.getSelection()!.addRange(range);
      return;
    }
  }
  throw new Error(`${needle} not found`);
}
const press = (key: string, init: Partial<KeyboardEventInit> = {}) => fireEvent.keyDown(document.body, { key, ...init });
const regions = () => screen.queryAllByTestId("region");

/** The API for the labeling flow: leases hand out the tasks not yet submitted or skipped. */
function labelingApi(tasks: Task[], submitReplies: { status: number; body?: unknown }[]) {
  const done = new Set<string>();
  const routes: Parameters<typeof fakeApi>[0] = {
    "GET /api/v1/me": { status: 200, body: { id: "u1", username: "ann", role: "annotator" } },
    "GET /api/v1/projects": { status: 200, body: [project] },
    "POST /api/v1/projects/p1/tasks/lease": () => ({ status: 200, body: { tasks: tasks.filter((t) => !done.has(t.id)), reason: tasks.every((t) => done.has(t.id)) ? "empty" : null } }),
  };
  for (const t of tasks) {
    routes[`GET /api/v1/tasks/${t.id}/draft`] = { status: 204 };
    routes[`PUT /api/v1/tasks/${t.id}/draft`] = { status: 200, body: {} };
    routes[`DELETE /api/v1/tasks/${t.id}/draft`] = { status: 204 };
    routes[`GET /api/v1/tasks/${t.id}/comments`] = { status: 200, body: [] };
    routes[`POST /api/v1/tasks/${t.id}/skip`] = () => {
      done.add(t.id);
      return { status: 200, body: {} };
    };
  }
  const replies = [...submitReplies];
  routes["POST /api/v1/tasks/t1/submit"] = () => {
    const reply = replies.length > 1 ? replies.shift()! : replies[0]!;
    if (reply.status === 200) done.add("t1");
    return reply;
  };
  return fakeApi(routes);
}

describe("labeling flow", () => {
  it("signs in, labels spans and choices, shows a 422, submits, skips and signs out", async () => {
    const server = labelingApi(
      [t1, task("t2", "doc-2", "second")],
      [
        { status: 422, body: { detail: "the result breaks a rule", violations: [{ rule: "no_overlap", message: "spans must not overlap", region_index: 1 }] } },
        { status: 200, body: { ...t1, state: "submitted" } },
      ],
    );
    render(<App fetchImpl={server.fetch} />);

    fireEvent.change(screen.getByTestId("token-input"), { target: { value: " secret " } });
    fireEvent.click(screen.getByTestId("sign-in"));
    fireEvent.click(await screen.findByTestId("project-ner"));
    expect(localStorage.getItem(TOKEN_KEY)).toBe("secret");
    expect(server.calls.every((c) => c.auth === "Bearer secret")).toBe(true);

    expect(await screen.findByTestId("current-external-id")).toHaveProperty("textContent", "doc-1");
    // the next tasks are pre-leased with one call
    expect(server.calls.find((c) => c.path.endsWith("/tasks/lease"))?.body).toEqual({ count: 4 });
    // the prediction is a pending pre-label
    expect(regions()).toHaveLength(1);
    expect(regions()[0]).toHaveProperty("textContent", "Paris");
    expect(regions()[0]?.getAttribute("data-label")).toBe("LOC");
    expect(regions()[0]?.className).toContain("pending");

    // select text, press the PER hotkey (default "1")
    selectText("Ana");
    press("1");
    expect(regions().map((r) => r.textContent)).toEqual(["Ana", "Paris"]);
    expect(window.getSelection()!.isCollapsed).toBe(true);

    // undo / redo
    press("z", { ctrlKey: true });
    expect(regions()).toHaveLength(1);
    press("Z", { ctrlKey: true, shiftKey: true });
    expect(regions()).toHaveLength(2);

    // click a span to select it, Delete removes it, undo brings it back
    fireEvent.click(regions()[0]!);
    expect(regions()[0]?.getAttribute("aria-selected")).toBe("true");
    press("Delete");
    expect(regions()).toHaveLength(1);
    press("z", { ctrlKey: true });
    expect(regions()).toHaveLength(2);

    // digits belong to labels, so the choice options are on Shift+digit
    press("?");
    const overlay = screen.getByTestId("shortcuts");
    expect(within(overlay).getByText("Shift+2")).toBeTruthy();
    expect(within(overlay).getByText(/^PER:/)).toBeTruthy();
    press("?");
    expect(screen.queryByTestId("shortcuts")).toBeNull();
    press("@", { code: "Digit2", shiftKey: true });
    expect((screen.getByTestId("choice-lang-fr") as HTMLInputElement).checked).toBe(true);

    // Enter submits and shows the next item at once; the 422 brings doc-1 back with the error and the work
    const calls = server.calls.length;
    press("Enter");
    // the next item is on screen at once, from memory, before any request: the submit (and the lease top-up)
    // go once it is drawn
    expect(screen.getByTestId("current-external-id").textContent).toBe("doc-2");
    expect(server.calls.length).toBe(calls);
    const error = await screen.findByTestId("error");
    expect(screen.getByTestId("current-external-id").textContent).toBe("doc-1");
    expect(error.textContent).toContain("the result breaks a rule");
    expect(error.textContent).toContain("spans must not overlap");
    expect(regions()).toHaveLength(2);
    // region_index 1 of the sent result is the PER span "Ana"
    expect(regions().find((r) => r.textContent === "Ana")?.className).toContain("invalid");
    expect(regions().find((r) => r.textContent === "Paris")?.className).not.toContain("invalid");

    fireEvent.click(screen.getByTestId("submit"));
    await waitFor(() => expect(screen.getByTestId("current-external-id").textContent).toBe("doc-2"));
    await waitFor(() => expect(server.calls.filter((c) => c.path === "/api/v1/tasks/t1/submit")).toHaveLength(2));
    const submits = server.calls.filter((c) => c.path === "/api/v1/tasks/t1/submit");
    const body = submits[1]!.body as { result: Record<string, unknown>[]; lead_time_ms: number };
    expect(body.lead_time_ms).toBeGreaterThanOrEqual(0);
    expect(body.result.map(({ id: _id, ...r }) => r)).toEqual([
      { type: "span", label: "LOC", start: 15, end: 20, origin: { model_version: "m1", edited: false } },
      { type: "span", label: "PER", start: 8, end: 11 },
      { type: "choice", name: "lang", value: "fr" },
    ]);
    await waitFor(() => expect(screen.queryByTestId("error")).toBeNull());

    fireEvent.click(screen.getByTestId("skip"));
    expect(await screen.findByTestId("nothing-left")).toBeTruthy();

    fireEvent.click(screen.getByTestId("sign-out"));
    expect(screen.getByTestId("token-input")).toBeTruthy();
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("rejects a bad token and keeps a good stored one", async () => {
    const bad = fakeApi({ "GET /api/v1/me": { status: 401, body: { detail: "invalid token" } } });
    const { unmount } = render(<App fetchImpl={bad.fetch} />);
    fireEvent.change(screen.getByTestId("token-input"), { target: { value: "nope" } });
    fireEvent.click(screen.getByTestId("sign-in"));
    expect((await screen.findByTestId("sign-in-error")).textContent).toMatch(/not valid/);
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
    unmount();

    localStorage.setItem(TOKEN_KEY, "kept");
    const good = fakeApi({
      "GET /api/v1/me": { status: 200, body: { id: "u1", username: "ann", role: "annotator" } },
      "GET /api/v1/projects": { status: 200, body: [] },
    });
    await act(async () => {
      render(<App fetchImpl={good.fetch} />);
    });
    expect(await screen.findByText("No projects yet.")).toBeTruthy();
    expect(good.calls[0]?.auth).toBe("Bearer kept");
  });
});

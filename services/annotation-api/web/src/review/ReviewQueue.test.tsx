import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { fakeApi } from "../../test/fakeApi";
import { createApi } from "../api/client";
import type { Project } from "../api/types";
import { ReviewQueue } from "./ReviewQueue";
import type { ReviewQueueReply } from "./types";

const TEXT = "Ana met Bob in Paris.";
const project: Project = {
  id: "p1",
  name: "ner",
  schema: { modality: "text", labels: [{ name: "PER" }, { name: "LOC" }], tools: ["span", "choice"], choices: [{ name: "lang", options: ["en", "fr"] }] },
  policy: {},
};
const queue: ReviewQueueReply = {
  project,
  reviews: [
    {
      item: { id: "i1", external_id: "doc-1", modality: "text", text: TEXT },
      round: 1,
      reason: "agreement 0.50 is below the project threshold 0.90",
      agreement: 0.5,
      submissions: [
        {
          task_id: "t1",
          annotator_id: "u1",
          username: "ann",
          schema_version: 1,
          lead_time_ms: 1000,
          result: [
            { type: "span", label: "PER", start: 0, end: 3 },
            { type: "span", label: "LOC", start: 15, end: 20 },
            { type: "choice", name: "lang", value: "en" },
          ],
        },
        {
          task_id: "t2",
          annotator_id: "u2",
          username: "bea",
          schema_version: 1,
          lead_time_ms: 1000,
          result: [
            { type: "span", label: "PER", start: 0, end: 3 },
            { type: "span", label: "PER", start: 8, end: 11 },
            { type: "choice", name: "lang", value: "fr" },
          ],
        },
      ],
    },
  ],
};

function setup() {
  const fake = fakeApi({
    "GET /api/v1/projects/p1/review-queue?limit=200": { status: 200, body: queue },
    "POST /api/v1/projects/p1/review-queue/i1": [
      { status: 409, body: { detail: "item i1 round 1 is not in review: it was decided already (accepted)" } },
      { status: 200, body: { outcome: "accepted" } },
    ],
  });
  const api = createApi({ token: "tok", fetch: fake.fetch });
  render(<ReviewQueue api={api} project={project} />);
  return fake;
}

describe("ReviewQueue", () => {
  it("shows every version's spans with the disagreement marked, and the choices as a table", async () => {
    setup();
    expect(await screen.findByTestId("review-external-id")).toHaveProperty("textContent", "doc-1");
    const spans = (i: number) => within(screen.getByTestId(`version-${i}`)).getAllByTestId("version-span").map((li) => li.dataset.status);
    expect(spans(0)).toEqual(["agreed", "disputed"]);
    expect(spans(1)).toEqual(["agreed", "disputed"]);
    await waitFor(() => expect(document.querySelectorAll(".span-region.invalid").length).toBe(2));
    expect(screen.getByTestId("choice-row-lang").dataset.status).toBe("disputed");
    expect(screen.getByTestId("disputed-count").textContent).toBe("3 disagreements");
  });

  it("accepts one version and reports a refusal without losing the item", async () => {
    const fake = setup();
    fireEvent.click(await screen.findByTestId("accept-bea"));
    expect((await screen.findByTestId("review-error")).textContent).toContain("decided already");
    expect(screen.getAllByTestId("review-item")).toHaveLength(1);
    fireEvent.click(screen.getByTestId("accept-bea"));
    expect((await screen.findByTestId("review-status")).textContent).toContain("bea's version accepted");
    expect(screen.queryAllByTestId("review-item")).toHaveLength(0);
    const posts = fake.calls.filter((c) => c.method === "POST");
    expect(posts.map((c) => c.body)).toEqual([
      { decision: "accept", round: 1, task_id: "t2" },
      { decision: "accept", round: 1, task_id: "t2" },
    ]);
  });

  it("rejects only with feedback", async () => {
    const fake = setup();
    const reject = (await screen.findByTestId("reject")) as HTMLButtonElement;
    expect(reject.disabled).toBe(true);
    fireEvent.change(screen.getByTestId("reject-feedback"), { target: { value: "Bob is a person." } });
    expect(reject.disabled).toBe(false);
    fireEvent.click(reject);
    await screen.findByTestId("review-error");
    expect(fake.calls.at(-1)?.body).toEqual({ decision: "reject", round: 1, feedback: "Bob is a person." });
  });
});

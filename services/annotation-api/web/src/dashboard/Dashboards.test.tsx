import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { createApi } from "../api/client";
import type { Me } from "../api/types";
import { Dashboards } from "./Dashboards";
import { annotatorDashboard, projectDashboard } from "./fixtures";

const PROJECTS = [{ id: "p1", name: "Birds", schema: { modality: "image", labels: [], tools: [] }, policy: {} }];

function server(role: Me["role"], calls: string[]) {
  return async (input: RequestInfo | URL): Promise<Response> => {
    const url = String(input);
    calls.push(url);
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url.endsWith("/api/v1/projects")) return json(PROJECTS);
    if (url.includes("/dashboard/annotators/me")) return json(annotatorDashboard());
    if (url.includes("/dashboard?")) {
      return role === "manager" ? json(projectDashboard()) : json({ detail: "the project dashboard needs the manager role" }, 403);
    }
    return json({ detail: "no such route" }, 404);
  };
}

function setup(role: Me["role"]) {
  const calls: string[] = [];
  const api = createApi({ token: "t", fetch: server(role, calls) as typeof fetch });
  render(<Dashboards api={api} me={{ id: "u-ann", username: "ann", role }} />);
  return calls;
}

describe("Dashboards", () => {
  it("shows a manager the project's figures and the per-annotator table", async () => {
    const calls = setup("manager");
    expect((await screen.findByTestId("dash-submissions")).textContent).toContain("6");
    expect((screen.getByTestId("dash-median")).textContent).toContain("4.2 s");
    expect((screen.getByTestId("dash-p95")).textContent).toContain("1m 01s");
    expect((screen.getByTestId("dash-gold")).textContent).toContain("50.0%");
    expect((screen.getByTestId("dash-rejection-rate")).textContent).toContain("33.3% (1)");
    expect((screen.getByTestId("dash-queue-unassigned")).textContent).toContain("1");
    const ann = screen.getByTestId("annotator-row-ann");
    expect((within(ann).getByTestId("cell-submissions")).textContent).toContain("4");
    expect((within(ann).getByTestId("cell-rejection")).textContent).toContain("33.3% (1/3)");
    expect((within(screen.getByTestId("annotator-row-u-bob")).getByTestId("cell-gold")).textContent).toContain("–");
    expect(calls.some((c) => /\/projects\/p1\/dashboard\?start=.*&bucket=hour/.test(c))).toBe(true);
  });

  it("asks again for another range", async () => {
    const calls = setup("manager");
    await screen.findByTestId("dash-submissions");
    fireEvent.change(screen.getByTestId("range-preset"), { target: { value: "7d" } });
    await screen.findByTestId("dash-submissions");
    expect(calls.some((c) => c.includes("bucket=day"))).toBe(true);
  });

  it("gives an annotator only their own page, compared with the project's median", async () => {
    setup("annotator");
    expect(screen.queryByTestId("view-project")).toBeNull();
    const perHour = await screen.findByTestId("my-row-per_hour");
    expect((within(perHour).getByTestId("mine")).textContent).toContain("2.67");
    expect((within(perHour).getByTestId("median")).textContent).toContain("2.00");
    expect((perHour).textContent).toContain("better");
    expect((within(screen.getByTestId("my-row-median_ms")).getByTestId("median")).textContent).toContain("5.0 s");
    expect((screen.getByTestId("my-row-agreement")).textContent).toContain("–");
  });
});

"""The review screen's routes: the queue with every annotator's version (names, media, schema version), and one
decision per item-round: accept one annotator's version, reject with feedback (the annotators rework it), or
adjudicate (the reviewer's corrected result becomes the accepted annotation). qa owns the decision and publishes
annotation.accepted / annotation.rejected exactly once (a second decision on the same round is a 409)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from annotary.qa.v1 import qa_pb2
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.entrypoints.lookups import project_or_404
from annotary_annotation_api.entrypoints.views import review_view
from annotary_annotation_api.service_layer import users
from annotary_annotation_api.service_layer.users import User

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps


async def _user(request: Request) -> User:
    from annotary_annotation_api.entrypoints.http import current_user

    return await current_user(request)


ReviewUser = Annotated[User, Depends(_user)]
router = APIRouter(tags=["review"])


class DecisionIn(BaseModel):
    """``accept``: ``task_id`` names the annotator's version to accept (without it: qa's best submission);
    ``reject``: ``feedback`` is required; ``adjudicate``: ``result`` is the final annotation."""

    model_config = ConfigDict(extra="forbid")
    round: Annotated[int, Field(ge=1)]
    decision: Literal["accept", "reject", "adjudicate"]
    task_id: str | None = None
    result: list[Any] | None = None
    feedback: Annotated[str, Field(max_length=10_000)] = ""

    @model_validator(mode="after")
    def _complete(self) -> DecisionIn:
        if self.decision == "reject" and not self.feedback.strip():
            raise ValueError("feedback is required to reject (the annotators see it when they rework the item)")
        if self.decision == "adjudicate" and self.result is None:
            raise ValueError("result is required to adjudicate (the final annotation)")
        if self.decision != "adjudicate" and self.result is not None:
            raise ValueError(f"result is only for adjudicate, not {self.decision}")
        return self


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


async def _reviews(deps: Deps, project_id: str, limit: int) -> list[qa_pb2.ReviewItem]:
    reply = await deps.clients.qa.ListReviews(
        qa_pb2.ListReviewsRequest(project_id=project_id, limit=max(1, min(limit, 500))), timeout=deps.clients.timeout_s
    )
    return list(reply.reviews)


@router.get("/projects/{project_id}/review-queue")
async def review_queue(project_id: str, request: Request, user: ReviewUser, limit: int = 50) -> dict[str, Any]:
    """Items waiting for a reviewer, oldest first, each with every annotator's version side by side."""
    deps = _deps(request)
    project = await project_or_404(deps, project_id)
    reviews = await _reviews(deps, project_id, limit)
    async with deps.pool.acquire() as conn:
        names = await users.usernames(conn, [s.annotator_id for r in reviews for s in r.submissions])
    out = []
    for r in reviews:
        view = review_view(r)
        first = r.submissions[0].task_id if r.submissions else None
        # reviewers may read any task's media: the first submission's task serves the item's bytes
        view["item"]["media_url"] = f"/api/v1/tasks/{first}/media" if first and r.item.media_uri else None
        for sub_view, sub in zip(view["submissions"], r.submissions, strict=True):
            sub_view["username"] = names.get(sub.annotator_id) or sub.annotator_id
            sub_view["schema_version"] = sub.schema_version or None
            sub_view["lead_time_ms"] = sub.lead_time_ms
        out.append(view)
    return {"project": project, "reviews": out}


@router.post("/projects/{project_id}/review-queue/{item_id}")
async def decide(project_id: str, item_id: str, body: DecisionIn, request: Request, user: ReviewUser) -> dict[str, Any]:
    deps = _deps(request)
    await project_or_404(deps, project_id)
    try:
        uuid.UUID(item_id)
    except ValueError as exc:
        raise ApiError(404, f"item {item_id!r} not found") from exc
    result_json = ""
    if body.decision == "adjudicate":
        result_json = json.dumps(body.result)
    elif body.decision == "accept" and body.task_id:
        reviews = await _reviews(deps, project_id, 500)
        review = next((r for r in reviews if r.item.item_id == item_id and r.round == body.round), None)
        if review is None:
            raise ApiError(409, f"item {item_id} round {body.round} is not waiting for review (decided already?)")
        chosen = next((s for s in review.submissions if s.task_id == body.task_id), None)
        if chosen is None:
            raise ApiError(
                422, f"task_id: {body.task_id!r} is not one of this item's submissions in round {body.round}"
            )
        result_json = chosen.result_json
    reply = await deps.clients.qa.SubmitReview(
        qa_pb2.SubmitReviewRequest(
            project_id=project_id,
            item_id=item_id,
            round=body.round,
            decision={"accept": "accept", "reject": "reject", "adjudicate": "correct"}[body.decision],
            result_json=result_json,
            feedback=body.feedback,
            reviewer_id=str(user.id),
        ),
        timeout=deps.clients.timeout_s,
    )
    return {"item_id": item_id, "round": body.round, "decision": body.decision, "outcome": reply.outcome}

"""The public v1 shapes the REST API accepts (DESIGN.md "Public formats, v1")."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from annotary_annotation_api.domain.roles import Role

KNOWN_TOOLS = ("bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation", "choice", "transcript",
               "segment", "track")
_REVIEW_RE = re.compile(r"^(none|disagreements|all|sample:(0(\.\d+)?|1(\.0+)?))$")


class Label(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    color: str | None = None
    hotkey: Annotated[str | None, Field(max_length=1)] = None


class Choice(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Annotated[str, Field(min_length=1)]
    options: Annotated[list[str], Field(min_length=1)]
    multiple: bool = False


class LabelSchema(BaseModel):
    model_config = ConfigDict(extra="allow")
    modality: Literal["image", "text", "audio", "video"]
    labels: list[Label] = Field(default_factory=list)
    tools: Annotated[list[str], Field(min_length=1)]
    choices: list[Choice] = Field(default_factory=list)
    attributes: list[Any] = Field(default_factory=list)
    rules: dict[str, Any] = Field(default_factory=dict)
    guidelines: str = ""

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, tools: list[str]) -> list[str]:
        unknown = [t for t in tools if t not in KNOWN_TOOLS]
        if unknown:
            raise ValueError(f"unknown tool(s) {unknown}; known: {', '.join(KNOWN_TOOLS)}")
        return tools

    @model_validator(mode="after")
    def _consistent(self) -> LabelSchema:
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError("label names must be unique")
        if any(t != "choice" for t in self.tools) and not self.labels:
            raise ValueError("labels must not be empty for region tools")
        if "choice" in self.tools and not self.choices:
            raise ValueError("the choice tool needs at least one entry in choices")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap: Annotated[int, Field(ge=1, le=50)] = 1
    agreement_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    gold_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    gold_min_accuracy: Annotated[float, Field(ge=0.0, le=1.0)] = 0.85
    review: str = "disagreements"
    lease_seconds: Annotated[int, Field(ge=10, le=86400)] = 900
    max_active_per_annotator: Annotated[int, Field(ge=1, le=100)] = 10
    max_items_per_annotator: Annotated[int, Field(ge=0)] = 0
    qualification_items: Annotated[int, Field(ge=0, le=1000)] = 0
    qualification_min_accuracy: Annotated[float, Field(ge=0.0, le=1.0)] = 0.85

    @field_validator("review")
    @classmethod
    def _review_mode(cls, value: str) -> str:
        if not _REVIEW_RE.match(value):
            raise ValueError('must be "none", "disagreements", "all" or "sample:<p>" with p in 0..1')
        return value


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    schema_: LabelSchema = Field(alias="schema")
    policy: Policy = Field(default_factory=Policy)


class ProjectPatch(BaseModel):
    """A change of schema (a new schema version) and/or policy."""

    model_config = ConfigDict(extra="forbid")
    schema_: LabelSchema | None = Field(default=None, alias="schema")
    policy: Policy | None = None


class LeaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=1, le=100)] = 1


class PriorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_ids: list[uuid.UUID] = Field(default_factory=list, description="empty: every item of the project")
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    round: Annotated[int, Field(ge=1)]
    decision: Literal["accept", "reject", "correct"]
    result: list[Any] | None = None
    feedback: Annotated[str, Field(max_length=10_000)] = ""

    @model_validator(mode="after")
    def _complete(self) -> ReviewIn:
        if self.decision == "reject" and not self.feedback.strip():
            raise ValueError("feedback is required to reject")
        if self.decision == "correct" and self.result is None:
            raise ValueError("result is required to correct")
        return self


class PredictionIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    model_version: str = "import"
    score: float | None = None
    result: list[dict[str, Any]]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: Annotated[str | None, Field(max_length=1000)] = None
    text: str | None = None
    image: str | None = None
    audio: str | None = None
    video: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    predictions: list[PredictionIn] = Field(default_factory=list)
    gold: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_content(self) -> ItemIn:
        given = [f for f in ("text", "image", "audio", "video") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(f"an item needs exactly one of text, image, audio, video (got {given or 'none'})")
        return self

    @property
    def modality(self) -> str:
        return next(f for f in ("text", "image", "audio", "video") if getattr(self, f) is not None)


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: list[Any]
    lead_time_ms: Annotated[int | None, Field(ge=0)] = None


class SkipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=2000)] = ""


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]
    role: Role


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uri: Annotated[str, Field(min_length=1, pattern=r"^(s3://[^/]+|file:///).*")]

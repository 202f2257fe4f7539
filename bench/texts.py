"""The benchmark's item texts: short, unique (Annotary de-duplicates by content) and the same on every run."""

from __future__ import annotations

ADJ = ("quick", "quiet", "bright", "sour", "gentle", "brisk", "odd", "calm", "loud", "tidy", "rusty", "vivid")
NOUN = ("review", "parcel", "camera", "kettle", "ticket", "garden", "laptop", "sofa", "bicycle", "lamp", "novel")
VERB = ("arrived", "broke", "worked", "failed", "shined", "squeaked", "delighted", "annoyed", "lasted", "rattled")
TAIL = ("as promised", "after a week", "on day one", "in the rain", "for a month", "twice", "every morning")

CHOICE_NAME = "sentiment"
CHOICE_OPTIONS = ("positive", "negative", "neutral")


def item_text(i: int) -> str:
    """The text of item ``i``: a short product review, unique per ``i`` (fewer than 128 UTF-8 bytes)."""
    return (
        f"The {ADJ[i % len(ADJ)]} {NOUN[(i // 7) % len(NOUN)]} {VERB[(i // 3) % len(VERB)]} "
        f"{TAIL[(i // 11) % len(TAIL)]} (#{i})."
    )


def choice_for(i: int) -> str:
    return CHOICE_OPTIONS[i % len(CHOICE_OPTIONS)]


def annotary_result(i: int) -> list[dict[str, str]]:
    """A valid result for the benchmark's text-choice schema."""
    return [{"type": "choice", "name": CHOICE_NAME, "value": choice_for(i)}]


ANNOTARY_SCHEMA = {
    "modality": "text",
    "labels": [{"name": o} for o in CHOICE_OPTIONS],
    "tools": ["choice"],
    "choices": [{"name": CHOICE_NAME, "options": list(CHOICE_OPTIONS), "multiple": False}],
    "guidelines": "Pick the review's sentiment.",
}
# overlap 1 and no review: every submission completes its item and QA accepts it (the full event path runs).
ANNOTARY_POLICY = {"overlap": 1, "agreement_threshold": 0.0, "review": "none", "lease_seconds": 900}

LS_LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    f'<Choices name="{CHOICE_NAME}" toName="text" choice="single">'
    + "".join(f'<Choice value="{o}"/>' for o in CHOICE_OPTIONS)
    + "</Choices></View>"
)


def ls_result(i: int) -> list[dict[str, object]]:
    """The same answer as :func:`annotary_result`, in Label Studio's result format."""
    return [{"from_name": CHOICE_NAME, "to_name": "text", "type": "choices", "value": {"choices": [choice_for(i)]}}]

"""Built-in model plugins (heavy libraries are imported lazily, inside the methods that need them)."""

from __future__ import annotations

from annotary_preannotate.domain.plugin import ModelPlugin
from annotary_preannotate.models.text_choice import TextChoiceClassifier

PLUGINS: dict[str, type[ModelPlugin]] = {TextChoiceClassifier.name: TextChoiceClassifier}

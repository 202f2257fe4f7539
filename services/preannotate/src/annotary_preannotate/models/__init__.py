"""Built-in model plugins (heavy libraries are imported lazily, inside the methods that need them)."""

from __future__ import annotations

import json
import pickle
from typing import Any

from annotary_preannotate.domain.plugin import ModelPlugin
from annotary_preannotate.models.box_detector import BoxDetector
from annotary_preannotate.models.energy_vad import EnergyVAD
from annotary_preannotate.models.image_choice import ImageChoiceCNN
from annotary_preannotate.models.ls_ml_backend import LabelStudioMLBackend
from annotary_preannotate.models.ner_transformer import TransformerNER
from annotary_preannotate.models.openai_chat import OpenAIChatLabeler
from annotary_preannotate.models.text_choice import TextChoiceClassifier
from annotary_preannotate.models.token_ner import TokenNER

# Every model plugin by name: trained here (text choice, NER, image choice, image boxes), rule-based (audio voice
# activity) or served elsewhere (openai-chat, ls-ml-backend). A model version in the registry names its plugin.
PLUGINS: dict[str, type[ModelPlugin]] = {
    plugin.name: plugin for plugin in (TextChoiceClassifier, TokenNER, TransformerNER, ImageChoiceCNN, BoxDetector,
                                       EnergyVAD,
                                       OpenAIChatLabeler, LabelStudioMLBackend)}

# Plugins whose model lives elsewhere: their registry artifact is a connection config (JSON), not weights.
REMOTE = (LabelStudioMLBackend.name, OpenAIChatLabeler.name)
# Built-in plugins that need no training: connected to a project like a remote model, configured from its schema.
READY_MADE = (EnergyVAD.name,)


class ModelConfigError(ValueError):
    """A remote model's connection config that cannot be used; the message names the field."""


def remote_plugin(plugin: str, config: dict[str, Any]) -> ModelPlugin:
    """A remote model from its connection config: ``url`` and ``label_schema`` (and ``model``, ``api_key`` for
    openai-chat), ``project`` for the Label Studio ML backend."""
    url, schema = config.get("url"), config.get("label_schema")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ModelConfigError(f"url must be an http:// or https:// address, got {url!r}")
    if not isinstance(schema, dict):
        raise ModelConfigError("label_schema must be the project's label schema (an object)")
    if plugin == LabelStudioMLBackend.name:
        return LabelStudioMLBackend(url, schema, project=str(config.get("project", "")))
    if plugin == OpenAIChatLabeler.name:
        model = config.get("model")
        if not isinstance(model, str) or not model:
            raise ModelConfigError("model is required for openai-chat (the served model's name)")
        return OpenAIChatLabeler(url, model, schema, api_key=str(config.get("api_key", "")))
    raise ModelConfigError(f"plugin must be one of {', '.join(REMOTE)}, got {plugin!r}")


def load_plugin(plugin: str, data: bytes, model_version: str, encoder: Any = None) -> ModelPlugin:
    """A registered model version from its stored artifact (weights, or a remote model's config)."""
    model: ModelPlugin
    if plugin == TextChoiceClassifier.name:
        model = TextChoiceClassifier.loads(data, model_version, encoder)
    elif plugin == TokenNER.name:
        model = TokenNER(model_version, pickle.loads(data))
    elif plugin == EnergyVAD.name:
        model = EnergyVAD.loads(data, model_version)
    elif plugin == ImageChoiceCNN.name:
        model = ImageChoiceCNN.loads(data, model_version)
    elif plugin == BoxDetector.name:
        model = BoxDetector.loads(data, model_version)
    elif plugin == TransformerNER.name:
        model = TransformerNER.loads(data, model_version)
    elif plugin in REMOTE:
        model = remote_plugin(plugin, json.loads(data))
    else:
        raise KeyError(f"{model_version}: unknown plugin {plugin!r}")
    return model


def ready_made_plugin(plugin: str, schema: Any, model_version: str = "unregistered") -> ModelPlugin:
    """A built-in model that needs no training, configured from the project's label schema: the audio voice-activity
    model labels its segments with the schema's ``speech`` label (else its first label); the schema must be an
    audio one when it names a modality."""
    if plugin != EnergyVAD.name:
        raise ModelConfigError(f"plugin must be one of {', '.join(READY_MADE)}, got {plugin!r}")
    schema = schema if isinstance(schema, dict) else {}
    modality = schema.get("modality")
    if modality not in (None, "audio"):
        raise ModelConfigError(f"{plugin} pre-labels audio; this project's schema has modality {modality!r}")
    names = [str(entry.get("name")) for entry in schema.get("labels") or [] if isinstance(entry, dict)
             and entry.get("name")]
    label = "speech" if "speech" in names or not names else names[0]
    return EnergyVAD(model_version, label=label)

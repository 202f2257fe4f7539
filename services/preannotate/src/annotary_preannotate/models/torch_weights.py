"""Weights of the small torch models trained here: restored onto a device, stored as ``.npz`` (arrays only, no
pickle) with their metadata beside them."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

from annotary_preannotate.models.embeddings import pick_device

State = dict[str, NDArray[np.float32]]


def restore(network: Any, state: State, device: str) -> tuple[Any, str]:
    """``network`` (a fresh torch module) with ``state`` loaded, on ``device`` (auto: CUDA when present), in eval mode;
    and the device chosen."""
    import torch

    chosen = pick_device(device)
    network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return network.to(chosen).eval(), chosen


def network_of(plugin: Any) -> Any:
    """A torch plugin's network (``plugin._net``), restored by its ``setup()`` on first use; RuntimeError when the
    plugin was never trained."""
    if plugin._net is None:
        plugin.setup()
    if plugin._net is None:
        raise RuntimeError(f"{plugin.model_version} is not trained")
    return plugin._net


def dump(state: State | None, **meta: Any) -> bytes:
    """``state`` and ``meta`` (strings, lists of strings, numbers) as one ``.npz``."""
    if state is None:
        raise RuntimeError("nothing to store: not trained")
    buf = io.BytesIO()
    arrays: dict[str, Any] = {f"w:{k}": v for k, v in state.items()}
    arrays.update({f"__{k}__": np.array(v, dtype=str if isinstance(v, str | list | tuple) else None)
                   for k, v in meta.items()})
    np.savez(buf, **arrays)
    return buf.getvalue()


def load(data: bytes) -> tuple[State, dict[str, Any]]:
    """(state, meta) of a :func:`dump`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        state = {k[2:]: z[k] for k in z.files if k.startswith("w:")}
        meta = {k[2:-2]: z[k] for k in z.files if k.startswith("__") and k.endswith("__")}
    return state, meta

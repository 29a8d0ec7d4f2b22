"""Model weights on disk: written deterministically, loaded only if the checksum matches.

A weights file is ``torch.save`` of the state dict (tensors on CPU, keys in the model's
order). :func:`save_weights` returns the file's sha256, which the model registry stores;
:func:`load_model` reads the file once, checks that sha256 against the registry's **before**
unpickling anything, then loads with ``torch.load(weights_only=True)`` from the very bytes it
checked.

A seed ensemble of several networks is one file too (:func:`ensemble_state`,
:func:`load_models`): one state dict whose keys are each network's own prefixed with
``member<k>.``, so that the sha256 covers every member; an ensemble of one is stored exactly as
a single network.

What a model needs besides its networks (the deep model's harmonisation) is stored in the same
file, so that the sha256 covers it too: each extra is a JSON document kept as a tensor of its
UTF-8 bytes under ``extra.<name>`` (:func:`ensemble_state`'s ``extras``, :func:`load_saved`);
the networks' loading skips those keys.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gistcad.errors import ValidationError
from gistcad.neural.network import ModelConfig, build_model

logger = logging.getLogger(__name__)

#: a key of an ensemble's state dict: the member's index and the network's own key
_MEMBER_KEY = re.compile(r"member(\d+)\.(.+)")
#: the prefix of an extra's key (:func:`ensemble_state`)
EXTRA_PREFIX = "extra."


def save_weights(
    weights: nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike[str]
) -> str:
    """Write a model's (or a state dict's) weights to ``path`` and return the file's sha256.

    Same weights → same bytes → same sha256 (tensors are moved to CPU and made contiguous;
    torch's zip writer stores no time stamps). Written to a temporary file beside ``path``
    and renamed, so a reader never sees half a file.
    """
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    clean = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save(clean, buffer)
    payload = buffer.getvalue()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=target.name + ".", suffix=".part", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as fp:
            fp.write(payload)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    digest = hashlib.sha256(payload).hexdigest()
    logger.info("saved weights %s (%d bytes, sha256 %s)", target, len(payload), digest)
    return digest


def ensemble_state(
    states: Sequence[Mapping[str, torch.Tensor]], extras: Mapping[str, Any] | None = None
) -> dict[str, torch.Tensor]:
    """The networks' state dicts as one, to save as one file: a single network's own, else
    each key prefixed with ``member<k>.`` (k from 0); each of ``extras`` (JSON-ready) as the
    UTF-8 bytes of its JSON under ``extra.<name>``."""
    if not states:
        raise ValidationError("an ensemble needs at least one network")
    if len(states) == 1:
        joined = dict(states[0])
    else:
        joined = {
            f"member{k}.{key}": value
            for k, state in enumerate(states)
            for key, value in state.items()
        }
    for name, value in (extras or {}).items():
        text = json.dumps(value, sort_keys=True).encode("utf-8")
        joined[EXTRA_PREFIX + name] = torch.frombuffer(bytearray(text), dtype=torch.uint8)
    return joined


def member_states(state: Mapping[str, torch.Tensor], members: int) -> list[dict[str, torch.Tensor]]:
    """The ``members`` state dicts that :func:`ensemble_state` joined.

    Raises
    ------
    ValidationError
        If the file holds another number of networks than ``members``.
    """
    networks = {k: v for k, v in state.items() if not k.startswith(EXTRA_PREFIX)}
    if members == 1:
        return [networks]
    split: list[dict[str, torch.Tensor]] = [{} for _ in range(members)]
    for key, value in networks.items():
        found = _MEMBER_KEY.fullmatch(key)
        if found is None or int(found[1]) >= members:
            raise ValidationError(
                f"the weights file does not hold an ensemble of {members} networks (key "
                f"{key!r}); the model version's settings and its file disagree: retrain it"
            )
        split[int(found[1])][found[2]] = value
    if any(not member for member in split):
        raise ValidationError(
            f"the weights file holds fewer than the {members} networks of the ensemble; the "
            "model version's settings and its file disagree: retrain it"
        )
    return split


def load_model(path: str | os.PathLike[str], expected_sha256: str, cfg: ModelConfig) -> nn.Module:
    """Build ``cfg``'s network and load the weights at ``path`` if their sha256 matches.

    Returns the model on CPU in eval mode.

    Raises
    ------
    ValidationError
        If the file is missing, its sha256 differs from ``expected_sha256`` (both named; the
        file is never unpickled), or its tensors do not fit ``cfg``'s network.
    """
    return load_models(path, expected_sha256, cfg, 1)[0]


def load_models(
    path: str | os.PathLike[str], expected_sha256: str, cfg: ModelConfig, members: int
) -> list[nn.Module]:
    """The ``members`` networks of an ensemble saved as one file (:func:`ensemble_state`),
    each built from ``cfg``, loaded if the file's sha256 matches (as :func:`load_model`)."""
    return load_saved(path, expected_sha256, cfg, members)[0]


def load_saved(
    path: str | os.PathLike[str], expected_sha256: str, cfg: ModelConfig, members: int
) -> tuple[list[nn.Module], dict[str, Any]]:
    """The networks of :func:`load_models` and the extras saved beside them
    (:func:`ensemble_state`) by name, from one reading of the checked file."""
    source = Path(path)
    state = _checked_state(source, expected_sha256)
    models = []
    for member in member_states(state, members):
        model = build_model(cfg)
        try:
            model.load_state_dict(member, strict=True)
        except RuntimeError as exc:
            raise ValidationError(
                f"{source}: the weights do not fit a {cfg.architecture} network with {cfg}: {exc}"
            ) from exc
        models.append(model.eval())
    extras = {
        key.removeprefix(EXTRA_PREFIX): json.loads(bytes(value.numpy()).decode("utf-8"))
        for key, value in state.items()
        if key.startswith(EXTRA_PREFIX)
    }
    return models, extras


def _checked_state(source: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    """The state dict in ``source``, read once and unpickled only if its sha256 matches."""
    try:
        payload = source.read_bytes()
    except FileNotFoundError:
        raise ValidationError(
            f"{source}: no weights file; check the model registry's path"
        ) from None
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected_sha256.strip().lower():
        raise ValidationError(
            f"{source}: weights checksum mismatch: expected sha256 {expected_sha256}, the file "
            f"has {actual}. The file was changed or damaged after registration; restore it "
            "from backup or retrain — it was not loaded"
        )
    state: dict[str, torch.Tensor] = torch.load(
        io.BytesIO(payload), map_location="cpu", weights_only=True
    )
    return state

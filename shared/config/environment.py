"""Environment variables override config keys, the reference's way."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

ENV_PREFIX = "REGISTRY_"


def apply_env_overrides(raw: dict, environ: Mapping[str, str]) -> dict:
    """``REGISTRY_A_B_C=v`` sets ``a.b.c``. Existing keys are matched case-insensitively."""
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == "REGISTRY_STATE_DIRECTORY":
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("_")
        if not all(parts):
            continue
        node = raw
        for part in parts[:-1]:
            match = next((k for k in node if str(k).lower() == part), None)
            if match is None or not isinstance(node[match], dict):
                node[match or part] = {}
                match = match or part
            node = node[match]
        leaf = next((k for k in node if str(k).lower() == parts[-1]), parts[-1])
        try:
            node[leaf] = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            node[leaf] = value
    return raw

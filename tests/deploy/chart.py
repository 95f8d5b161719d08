"""Rendering the Helm chart with Helm's own SDK, and reading what it renders as a kubelet would:
which files and environment variables a container gets from ConfigMaps and Secrets."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from tests.deploy.tools import REPO, module

CHART = REPO / "helm" / "registry"
PRODUCTION_VALUES = CHART / "values-production.yaml"
RELEASE, NAMESPACE = "registry", "registry"


def helm():
    return module("helm_python", "helm-python-sdk")


def load_chart():
    return helm().Chart.load(str(CHART))


def render(chart, values: dict | None = None, name: str = RELEASE) -> list[dict]:
    """Every object the chart renders (NOTES.txt excluded), as dicts."""
    manifests = chart.render(values or {}, name=name, namespace=NAMESPACE)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def notes(chart, values: dict | None = None) -> str:
    manifests = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str) -> dict:
    (found,) = find(objects, kind, name)
    return found


def secret_data(objects: list[dict], existing: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Secret name -> key -> value: the chart's rendered Secrets plus the ones the user made."""
    out = {name: dict(data) for name, data in existing.items()}
    for secret in find(objects, "Secret"):
        decoded = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        out[secret["metadata"]["name"]] = decoded
    return out


def container_view(objects: list[dict], deployment: dict, secrets: dict, root: Path) -> tuple[dict, Path]:
    """Lay out under ``root`` the files the first container of ``deployment`` would see, and
    return its environment and where its config file is. Missing Secrets or keys raise KeyError,
    as a pod would fail to start."""
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    config_path = None
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        target = root / mount["mountPath"].lstrip("/")
        files: dict[str, str] = {}
        if "configMap" in volume:
            data = one(objects, "ConfigMap", volume["configMap"]["name"])["data"]
            files = dict(data)
        elif "secret" in volume:
            data = secrets[volume["secret"]["secretName"]]
            items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
            files = {item["path"]: data[item["key"]] for item in items}
        elif "projected" in volume:
            for source in volume["projected"]["sources"]:
                data = secrets[source["secret"]["name"]]
                files.update({item["path"]: data[item["key"]] for item in source["secret"]["items"]})
        else:
            continue  # emptyDir, persistentVolumeClaim: no content to check
        if "subPath" in mount:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[mount["subPath"]])
            if mount["mountPath"] == "/etc/registry/config.yml":
                config_path = target
            continue
        for relative, content in files.items():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text(content)
    env = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[ref["name"]][ref["key"]]
    assert config_path is not None, "the config file is not mounted"
    return env, config_path


def rebase_file_references(config_path: Path, root: Path) -> None:
    """Point ${file:/abs} references at the laid-out copy under ``root``."""
    text = config_path.read_text().replace("${file:/", "${file:" + str(root) + "/")
    config_path.write_text(text)

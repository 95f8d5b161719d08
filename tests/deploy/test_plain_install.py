"""What users install runs: the wheel the image builds, installed alone into a fresh venv.

The wheel and its dependencies are built exactly as the Dockerfile's build stage builds them
(`pip wheel --no-cache-dir --wheel-dir W .` over what the stage copies), then installed with no
extras into a venv without system site-packages. The test extras are what a developer has; a
runtime import they pull in by chance (kombu's Redis transport needs `packaging`, which only
pytest brought) would otherwise pass every other test and crash every deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile import build_stage_context
from tests.e2e.oci import OCI_MANIFEST, write_image
from tests.integration.notifications.support import (
    Deployment,
    Receiver,
    endpoint,
    start_notifier,
    start_serve,
    wait_until,
)

pytestmark = pytest.mark.integration

# Every module of both services, imported the way the console script would find them (from the
# installed wheel, not this checkout): what fails names the module and the missing import. The
# history's migration scripts are run by Alembic, not imported (the serve test below runs them).
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import services, shared
failed = {}
names = []
for package in (services, shared):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if module.name.startswith("shared.history.migrations."):
            continue
        names.append(module.name)
        try:
            importlib.import_module(module.name)
        except Exception as exc:
            failed[module.name] = repr(exc)
print(json.dumps({"failed": failed, "names": names, "services": services.__file__,
                  "prefix": sys.prefix}))
"""


def plain_env() -> dict[str, str]:
    """The caller's environment without what would reach this checkout or the test venv."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PROMETHEUS_MULTIPROC_DIR")
            and not k.startswith("REGISTRY_")}


def run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=plain_env(), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory) -> Path:
    """A fresh venv holding the project's wheel and the wheels `pip wheel .` resolved for it."""
    tmp = tmp_path_factory.mktemp("plain-install")
    context = build_stage_context(tmp / "src")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp)
    pip = str(venv / "bin" / "pip")
    run([pip, "wheel", "--no-cache-dir", "--wheel-dir", str(tmp / "wheels"), "."], cwd=context)
    wheels = sorted(str(p) for p in (tmp / "wheels").glob("*.whl"))
    run([pip, "install", "--no-cache-dir", *wheels], cwd=tmp)
    config = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in config
    return venv


def test_every_module_of_both_services_imports_from_a_plain_install(plain_venv, tmp_path):
    result = run([str(plain_venv / "bin" / "python"), "-c", IMPORT_EVERYTHING], cwd=tmp_path)
    found = json.loads(result.stdout)
    assert found["failed"] == {}
    # The modules came from the installed wheel, not from this checkout.
    assert found["services"].startswith(str(plain_venv)), found["services"]
    assert {"services.cli", "shared.broker.redis_transport", "services.registry.storage.s3"} <= set(
        found["names"])


def test_a_plain_install_serves_a_push_and_its_notifier_delivers_the_webhook(
        plain_venv, tmp_path, skopeo):
    receiver = Receiver()
    deployment = Deployment(tmp_path / "d", None, [endpoint("plain", receiver.url)])
    registry = plain_venv / "bin" / "registry"
    serve = notifier = None
    try:
        # Embedded broker: serve starts a notifier beside itself; a second, standalone notifier
        # competes for the same queue on disk, as one more replica would.
        serve, base_url = start_serve(deployment, registry=registry)
        notifier = start_notifier(deployment, registry=registry)
        layout = tmp_path / "image"
        pushed = write_image(layout, "v1", [4096])
        host = base_url.removeprefix("http://")
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
               f"docker://{host}/plain/app:v1")

        def manifest_push() -> dict | None:
            return next((e for e in receiver.events() if e["action"] == "push"
                         and e["target"].get("mediaType") == OCI_MANIFEST), None)

        event = wait_until(manifest_push, 30, "the manifest push event at the receiver", 0.1)
        assert event["target"]["repository"] == "plain/app"
        assert event["target"]["tag"] == "v1"
        assert event["target"]["digest"] == pushed.manifest_digest
        assert "notification sent endpoint=plain" in serve.log() + notifier.log()
    finally:
        for process in (notifier, serve):
            if process is not None:
                process.stop()
        receiver.close()


def test_the_package_data_is_installed(plain_venv):
    """Files that are not modules: without them in the wheel, `registry console` would import
    fine and serve nothing, and the history's migrations could not run."""
    (site,) = (plain_venv / "lib").glob("python3*/site-packages")
    for name in ("services/console/templates/base.html", "services/console/static/console.js",
                 "shared/history/migrations/env.py", "shared/history/migrations/script.py.mako",
                 "shared/history/migrations/versions/0001_history.py",
                 "shared/history/migrations/versions/0002_events_by_repository_and_tag.py"):
        assert (site / name).is_file(), name

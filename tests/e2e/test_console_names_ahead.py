"""Signing in to the console starts reading the user's repository names, for the search box,
before any page asks: a first search then finds them read (a search needs every name, a walk of
the registry's whole storage)."""

from __future__ import annotations

from tests.conftest import free_port
from tests.e2e.console_support import SECRET, USERS, answers, sign_in, write_htpasswd
from tests.e2e.procs import RegistryProcess
from tests.integration.notifications.support import wait_until


def catalog_reads(log: str) -> int:
    """The console's reads of the registry's catalog (the access log leaves out the query)."""
    return sum(1 for line in log.splitlines()
               if "path=/v2/_catalog " in line and "useragent=durable-registry-console" in line)


def test_signing_in_reads_the_catalog_before_any_page_asks(tmp_path):
    console = f"http://127.0.0.1:{free_port()}"
    registry = RegistryProcess(
        kind="ours", root=tmp_path / "storage", workdir=tmp_path,
        htpasswd=write_htpasswd(tmp_path / "htpasswd"),
        extra_config={"http": {"secret": SECRET},
                      "console": {"addr": console.removeprefix("http://")}})
    registry.start()
    try:
        wait_until(lambda: answers(f"{console}/login"), 30, "the console")
        assert catalog_reads(registry.log_text()) == 0
        _, r = sign_in(console, "bob", USERS["bob"])
        assert r.status_code == 303
        wait_until(lambda: catalog_reads(registry.log_text()) == 1, 10,
                   "the console reading the catalog after the sign-in")
    finally:
        registry.stop()

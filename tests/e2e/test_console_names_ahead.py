"""Opening the console's repository list starts reading every repository name, for its search
box (a search needs every name: a walk of the registry's whole storage), and a search then finds
them read. Signing in reads none: a user who never searches costs the registry no walk."""

from __future__ import annotations

import time

from tests.conftest import free_port
from tests.e2e.console_support import SECRET, USERS, answers, sign_in, write_htpasswd
from tests.e2e.procs import RegistryProcess
from tests.integration.notifications.support import wait_until


def catalog_reads(log: str) -> int:
    """The console's reads of the registry's catalog (the access log leaves out the query)."""
    return sum(1 for line in log.splitlines()
               if "path=/v2/_catalog " in line and "useragent=durable-registry-console" in line)


def test_the_repository_list_reads_the_names_its_search_box_needs(tmp_path):
    console = f"http://127.0.0.1:{free_port()}"
    registry = RegistryProcess(
        kind="ours", root=tmp_path / "storage", workdir=tmp_path,
        htpasswd=write_htpasswd(tmp_path / "htpasswd"),
        extra_config={"http": {"secret": SECRET},
                      "console": {"addr": console.removeprefix("http://")}})
    registry.start()
    try:
        wait_until(lambda: answers(f"{console}/login"), 30, "the console")
        session, r = sign_in(console, "bob", USERS["bob"])
        assert r.status_code == 303
        time.sleep(0.5)
        assert catalog_reads(registry.log_text()) == 0
        assert session.get(f"{console}/repositories").status_code == 200  # one catalog page
        wait_until(lambda: catalog_reads(registry.log_text()) == 2, 10,
                   "the console reading every name after showing the list")
        found = session.get(f"{console}/api/repositories", params={"q": "app"})
        assert found.status_code == 200 and found.json()["total"] == 0
        assert catalog_reads(registry.log_text()) == 2  # the names were read already
    finally:
        registry.stop()

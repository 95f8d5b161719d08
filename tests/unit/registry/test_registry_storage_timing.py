"""Every driver built from the config records ``registry_storage_action_seconds`` once per call."""

from __future__ import annotations

import pytest

from services.registry.metrics import STORAGE_ACTION
from services.registry.storage import PathNotFound, TimedDriver, build_driver
from shared.config import parse_config


def _count(driver: str, action: str) -> float:
    for family in STORAGE_ACTION.collect():
        for sample in family.samples:
            if (sample.name.endswith("_count") and sample.labels["driver"] == driver
                    and sample.labels["action"] == action):
                return sample.value
    return 0.0


@pytest.fixture(params=["filesystem", "inmemory"])
def driver(request, tmp_path):
    storage = ({"filesystem": {"rootdirectory": str(tmp_path)}}
               if request.param == "filesystem" else {"inmemory": {}})
    return build_driver(parse_config({"storage": storage}))


def test_each_call_is_one_observation_under_the_drivers_name(driver):
    assert isinstance(driver, TimedDriver)
    name = driver.name
    actions = ("PutContent", "GetContent", "Stat", "List", "Writer", "WriterCommit", "Reader",
               "Move", "Walk", "Delete")
    before = {a: _count(name, a) for a in actions}

    driver.put_content("/a/small", b"123")
    assert driver.get_content("/a/small") == b"123"
    assert driver.stat("/a/small").size == 3
    assert driver.list("/a") == ["/a/small"]
    with driver.writer("/a/big") as w:
        w.write(b"x" * 10)
        w.write(b"y" * 10)
        w.commit()
    with driver.reader("/a/big", 5) as r:
        assert r.read() == b"x" * 5 + b"y" * 10
    driver.move("/a/big", "/b/big")
    # walk calls list and stat inside the driver: still one Walk, and nothing else
    assert {i.path for i in driver.walk("/")} == {"/a", "/a/small", "/b", "/b/big"}
    driver.delete("/b")

    after = {a: _count(name, a) for a in actions}
    assert {a: after[a] - before[a] for a in actions} == dict.fromkeys(actions, 1)


def test_failures_are_timed_too(driver):
    before = _count(driver.name, "Stat")
    with pytest.raises(PathNotFound):
        driver.stat("/nothing")
    assert not driver.exists("/nothing")
    assert _count(driver.name, "Stat") == before + 2


def test_driver_specific_attributes_stay_reachable(tmp_path):
    fs = build_driver(parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}}}))
    assert fs.root == str(tmp_path)
    fs.put_content("/x", b"1")
    assert fs.local_path("/x") == str(tmp_path / "x")


def test_the_wrapper_forwards_the_whole_driver_interface():
    # A method added to StorageDriver must be forwarded by TimedDriver too, or the wrapper
    # would silently run the base class's default instead of the driver's own.
    from services.registry.storage import StorageDriver

    interface = {n for n, m in vars(StorageDriver).items() if callable(m) and not n.startswith("_")}
    assert interface <= set(vars(TimedDriver)), interface - set(vars(TimedDriver))


def test_a_catalog_walk_is_one_walk_not_a_list_per_folder(driver):
    # As the reference's catalog (one Walk); an observation per folder cost a catalog of 10,000
    # repositories a fifth of its time.
    from services.registry.domain.catalog import catalog_page, repositories

    for name in ("a/one", "a/two", "b/three"):
        driver.put_content(f"/docker/registry/v2/repositories/{name}/_layers/x", b"")
    lists, walks = _count(driver.name, "List"), _count(driver.name, "Walk")
    assert repositories(driver) == ["a/one", "a/two", "b/three"]
    assert catalog_page(driver, 1, "a/one") == (["a/two"], True)
    assert _count(driver.name, "List") == lists
    assert _count(driver.name, "Walk") == walks + 2

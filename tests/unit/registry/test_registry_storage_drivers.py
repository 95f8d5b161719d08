"""Both storage drivers honour the same contract."""

import os

import pytest

from services.registry.storage import build_driver
from services.registry.storage.driver import PathNotFound
from services.registry.storage.filesystem import FilesystemDriver
from services.registry.storage.inmemory import InMemoryDriver
from shared.config import parse_config


@pytest.fixture(params=["filesystem", "inmemory"])
def driver(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemDriver(str(tmp_path / "root"))
    return InMemoryDriver()


def test_put_get_stat(driver):
    driver.put_content("/a/b/c", b"hello")
    assert driver.get_content("/a/b/c") == b"hello"
    info = driver.stat("/a/b/c")
    assert (info.size, info.is_dir) == (5, False)
    assert driver.stat("/a/b").is_dir
    driver.put_content("/a/b/c", b"replaced")
    assert driver.get_content("/a/b/c") == b"replaced"


def test_missing_paths_raise_path_not_found(driver):
    for call in (lambda: driver.get_content("/nope"), lambda: driver.stat("/nope"),
                 lambda: driver.list("/nope"), lambda: driver.reader("/nope"),
                 lambda: driver.delete("/nope"), lambda: driver.move("/nope", "/x")):
        with pytest.raises(PathNotFound):
            call()
    assert not driver.exists("/nope")


def test_list_gives_full_sorted_child_paths(driver):
    for p in ("/d/z", "/d/a", "/d/sub/x"):
        driver.put_content(p, b"1")
    assert driver.list("/d") == ["/d/a", "/d/sub", "/d/z"]
    assert driver.list_names("/d") == ["a", "sub", "z"]
    assert driver.list_names("/") == ["d"]
    with pytest.raises(PathNotFound):
        driver.list_names("/d/a")  # a file: as for a folder deleted meanwhile


def test_writer_appends_and_cancel_restores(driver):
    with driver.writer("/up/data") as w:
        w.write(b"abc")
        w.commit()
    w = driver.writer("/up/data", append=True)
    assert w.size == 3
    w.write(b"def")
    w.cancel()
    w.close()
    assert driver.get_content("/up/data") == b"abc"
    w = driver.writer("/up/data", append=True)
    w.write(b"XYZ")
    w.commit()
    w.close()
    assert driver.get_content("/up/data") == b"abcXYZ"


def test_reader_offset(driver):
    driver.put_content("/f", b"0123456789")
    with driver.reader("/f", 4) as f:
        assert f.read() == b"456789"


def test_move_replaces_and_delete_removes_trees(driver):
    driver.put_content("/src/data", b"new")
    driver.put_content("/dst/data", b"old")
    driver.move("/src/data", "/dst/data")
    assert driver.get_content("/dst/data") == b"new"
    assert not driver.exists("/src/data")
    driver.put_content("/tree/a/b", b"1")
    driver.put_content("/tree/c", b"2")
    driver.delete("/tree")
    assert not driver.exists("/tree")
    assert not driver.exists("/tree/a/b")


def test_walk_visits_everything(driver):
    for p in ("/w/a", "/w/b/c"):
        driver.put_content(p, b"1")
    assert sorted(i.path for i in driver.walk("/w")) == ["/w/a", "/w/b", "/w/b/c"]


def test_filesystem_refuses_path_traversal(tmp_path):
    d = FilesystemDriver(str(tmp_path))
    with pytest.raises(ValueError):
        d.put_content("/a/../../etc/x", b"1")


def test_filesystem_local_path_is_under_the_root(tmp_path):
    d = FilesystemDriver(str(tmp_path))
    d.put_content("/x/y", b"1")
    assert d.local_path("/x/y") == str(tmp_path / "x" / "y")


def test_build_driver_from_config(tmp_path):
    fs = build_driver(parse_config({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}}}))
    assert isinstance(fs.inner, FilesystemDriver) and fs.root == str(tmp_path)
    assert isinstance(build_driver(parse_config({"storage": {"inmemory": {}}})).inner,
                      InMemoryDriver)


def test_put_contents_writes_every_file(driver):
    driver.put_content("/g/old", b"before")
    driver.put_contents([("/g/a", b"1"), ("/g/sub/b", b"22"), ("/g/old", b"after"),
                         ("/g/empty", b"")])
    assert [driver.get_content(p) for p in ("/g/a", "/g/sub/b", "/g/old", "/g/empty")] == [
        b"1", b"22", b"after", b""]
    assert driver.list("/g") == ["/g/a", "/g/empty", "/g/old", "/g/sub"]


def test_filesystem_put_contents_syncs_every_file_before_the_first_rename(tmp_path, monkeypatch):
    steps = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (steps.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (steps.append(("rename", os.path.basename(
        b))), real_replace(a, b))[1])
    driver = FilesystemDriver(str(tmp_path / "root"))
    driver.put_contents([("/x/content", b"c"), ("/x/link", b"l"), ("/x/tag", b"t")])
    assert steps == ["fsync"] * 3 + [("rename", "content"), ("rename", "link"), ("rename", "tag")]


def test_filesystem_put_contents_failing_leaves_nothing_behind(tmp_path, monkeypatch):
    driver = FilesystemDriver(str(tmp_path / "root"))
    driver.put_content("/x/link", b"old")
    real_fsync = os.fsync
    synced = []

    def failing_fsync(fd):
        synced.append(fd)
        if len(synced) == 2:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        driver.put_contents([("/x/content", b"c"), ("/x/link", b"new"), ("/x/tag", b"t")])
    # Nothing renamed, no temporary file left, the old link untouched.
    assert sorted(os.listdir(tmp_path / "root" / "x")) == ["link"]
    assert driver.get_content("/x/link") == b"old"


def test_exclusive_refuses_a_second_holder_until_the_first_lets_go(driver):
    import threading

    from services.registry.storage.driver import LockBusy

    driver.put_content("/u/1/data", b"")
    driver.put_content("/u/2/data", b"")
    outcome = []
    with driver.exclusive("/u/1"):
        def other():  # another thread (for the filesystem, another open file: another process)
            try:
                with driver.exclusive("/u/1"):
                    outcome.append("held")
            except LockBusy:
                outcome.append("busy")
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        with driver.exclusive("/u/2"):  # another name is another lock
            pass
    assert outcome == ["busy"]
    with driver.exclusive("/u/1"):
        pass
    assert driver.list("/u/1") == ["/u/1/data"]  # the lock is not content


def test_filesystem_exclusive_never_recreates_a_deleted_directory(tmp_path):
    driver = FilesystemDriver(str(tmp_path / "root"))
    with pytest.raises(PathNotFound):
        with driver.exclusive("/gone/1"):
            pass
    assert not driver.exists("/gone")
    driver.put_content("/u/1/data", b"x")
    with driver.exclusive("/u/1"):
        driver.delete("/u/1")  # its holder may delete it
    assert not driver.exists("/u/1")


def test_a_temporary_name_left_by_a_dead_process_is_skipped(tmp_path):
    """Files are written under ``.tmp-<pid>-<n>`` first; a name already there (a crashed
    process of the same id) is never opened again: the next number is taken."""
    from services.registry.storage import filesystem

    taken = next(filesystem._temporaries) + 1
    leftover = tmp_path / f".tmp-{os.getpid()}-{taken}"
    leftover.write_bytes(b"left by a crash")
    fd, path = filesystem._create_temporary(str(tmp_path))
    os.close(fd)
    assert path == f"{tmp_path}/.tmp-{os.getpid()}-{taken + 1}"
    assert leftover.read_bytes() == b"left by a crash"

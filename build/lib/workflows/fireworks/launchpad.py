"""The FireWorks LaunchPad of a campaign: an embedded store in the campaign folder, or a real MongoDB.

Embedded store (the default; no MongoDB server needed): FireWorks' own mongomock support
(extra `fireworks[mongomock]`) keeps the database in `<campaign>/store.json`. Measured with
FireWorks 2.1.4: that file is read when the client is built and written only when the process
exits, and two processes on one file run fireworks twice and lose records. So here:

- one process at a time: an OS lock (`fcntl.flock`) on `<campaign>/store.lock`, which holds
  the owner's PID; a second process gets `StoreBusyError` ("store busy, held by PID …");
- `save(lp)` writes the whole store atomically (temporary file, then rename) and is called by
  the campaign runner after every state change, so a killed runner loses at most the firework
  that was running (whose calculation resumes from its own files);
- compute jobs on a cluster never open the store: they run in FireWorks' offline mode
  (`workflows.fireworks.queues`) and the runner recovers their results.

A LaunchPad file (`my_launchpad.yaml`, `--launchpad FILE`) gives a real MongoDB instead; then
several runners may work on it, as FireWorks intends, and `save` does nothing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from structures.errors import HecathodeInputError
from structures.io import atomic_write

STORE_FILE = "store.json"
LOCK_FILE = "store.lock"
DB_NAME = "hecathode"


class StoreBusyError(HecathodeInputError):
    """Another process holds the campaign's embedded store."""


class StoreError(HecathodeInputError):
    """The store file or LaunchPad file cannot be used."""


@contextmanager
def _client(client_class) -> Iterator[None]:
    """Build LaunchPads with `client_class` (mongomock or pymongo) whatever FireWorks chose at import.

    FireWorks picks its client once, when `fireworks.fw_config` is first imported, from the
    environment; swapping the name in `fireworks.core.launchpad` while one LaunchPad is built
    makes the choice per store and independent of import order.
    """
    import fireworks.core.launchpad as module

    old = module.MongoClient
    module.MongoClient = client_class
    try:
        yield
    finally:
        module.MongoClient = old


def _lock(lock_path: Path):
    """Take the lock file or raise StoreBusyError naming the holder's PID."""
    fh = open(lock_path, "a+")  # noqa: SIM115 (held open for the lifetime of the lock)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip() or "unknown"
        fh.close()
        raise StoreBusyError(f"store busy, held by PID {pid} ({lock_path.parent}); wait for that "
                             "hecathode process to finish or stop it") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def _open_embedded(store_file: Path):
    from fireworks import LaunchPad
    from mongomock.gridfs import enable_gridfs_integration
    from mongomock_persistence import MongoClient

    enable_gridfs_integration()  # FireWorks keeps a GridFS fallback collection
    os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(store_file)  # the client reads the file named here
    try:
        with _client(MongoClient):
            lp = LaunchPad(name=DB_NAME, strm_lvl="ERROR")
        if lp.fw_id_assigner.count_documents({}) == 0:  # a new store: FireWorks' `lpad reset`
            lp.reset("", require_password=False)
    except Exception as err:  # bson/json errors from a damaged file
        raise StoreError(f"cannot read the embedded store {store_file}: {type(err).__name__}: "
                         f"{str(err)[:200]}") from None
    store = lp.connection._store
    finalizer = getattr(store, "_finalizer", None)
    if finalizer is not None:
        finalizer.detach()  # the library would rewrite the file, non-atomically, at exit
    lp.hecathode_store_file = store_file
    return lp


@contextmanager
def open_store(campaign_dir: str | Path, launchpad_file: str | Path | None = None, *,
               read_only: bool = False) -> Iterator:
    """The campaign's LaunchPad, locked for this process (embedded store) while the block runs.

    read_only: open a snapshot of the embedded store without taking the lock (for `status` and
    `report` while a runner works); nothing is saved back.
    """
    if launchpad_file is not None:
        from fireworks import LaunchPad
        from pymongo import MongoClient

        path = Path(launchpad_file)
        if not path.is_file():
            raise StoreError(f"LaunchPad file not found: {path}")
        try:
            with _client(MongoClient):
                lp = LaunchPad.from_file(str(path))
        except Exception as err:
            raise StoreError(f"cannot read LaunchPad file {path}: {err}") from None
        lp.hecathode_store_file = None
        yield lp
        return
    folder = Path(campaign_dir)
    store_file = folder / STORE_FILE
    if read_only:
        if not store_file.is_file():
            raise StoreError(f"no campaign store in {folder} (run `hecathode campaign run` first)")
        with tempfile.TemporaryDirectory() as tmp:
            snapshot = Path(tmp) / STORE_FILE
            shutil.copyfile(store_file, snapshot)
            lp = _open_embedded(snapshot)
            lp.hecathode_store_file = None
            yield lp
        return
    folder.mkdir(parents=True, exist_ok=True)
    fh = _lock(folder / LOCK_FILE)
    try:
        if not store_file.exists():
            atomic_write(store_file, lambda tmp: Path(tmp).write_text("{}"))
        yield _open_embedded(store_file)
    finally:
        fh.close()


def save(lp) -> None:
    """Write the embedded store to its file atomically (no-op for a MongoDB LaunchPad)."""
    path = getattr(lp, "hecathode_store_file", None)
    if path is None:
        return
    import bson.json_util

    text = bson.json_util.dumps(lp.connection._store.to_dict())
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))

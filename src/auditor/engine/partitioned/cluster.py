"""The Dask client: a running cluster by address, or a LocalCluster sized to this machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from auditor.errors import InputError
from auditor.spec import EngineSettings

# Set in every worker a LocalCluster starts (a cluster started by `dask worker` takes them
# from its shell, see docs/scale.md): one BLAS/OpenMP thread per worker thread, and Arrow
# buffers from malloc, which hands memory back between row groups (jemalloc keeps it).
WORKER_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MALLOC_TRIM_THRESHOLD_": "65536",
}


def require_dask() -> None:
    """Exit 2 with the fix when the optional extra is not installed."""
    try:
        import distributed  # noqa: F401

        import dask  # noqa: F401
    except ImportError:
        raise InputError(
            "--engine dask needs Dask: pip install 'auditor[dask]' (dask[dataframe] and "
            "distributed of one release line)."
        ) from None


@contextlib.contextmanager
def dask_client(settings: EngineSettings) -> Iterator[Any]:
    """A connected ``distributed.Client``; a LocalCluster it started is closed on exit."""
    require_dask()
    from distributed import Client, LocalCluster

    import dask

    if settings.address is not None:
        try:
            client = Client(settings.address, timeout="20s")
        except OSError as exc:
            raise InputError(
                f"--engine-address {settings.address}: no Dask scheduler answers ({exc}). "
                "Start one with `dask scheduler`, or drop the address for a local cluster."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    workers = settings.workers or max(1, os.cpu_count() or 1)
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_ENVIRONMENT}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=settings.memory_limit or "auto",
            dashboard_address=":0",
        )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()

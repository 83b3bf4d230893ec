"""What the Dask engine's tests share: one in-process cluster (one worker, one thread) per
test process, started once, so each file costs seconds rather than a cluster start each."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cluster():
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as local:
        yield local.scheduler_address

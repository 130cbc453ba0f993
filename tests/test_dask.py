"""The partitioned search on a local Dask cluster (2 worker processes): the verdicts and counts
of the sequential search. Every test here is bounded in time by an alarm."""

from __future__ import annotations

import json
import signal

import pytest
from conftest import checked, counts, system
from turnproof.explore.scale.engines import Dask, EngineError
from turnproof.explore.scale.partition import partitioned_bfs
from turnproof.explore.search.trace import replay
from turnproof.specs.properties import PROPERTIES

distributed = pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.slow  # a local cluster of worker processes per module

LIMIT = 120  # seconds for any one test of this file


@pytest.fixture(autouse=True)
def time_bound():
    def expired(signum, frame):
        raise TimeoutError(f"a Dask test ran past {LIMIT}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.mark.parametrize(
    "design,scenario",
    [("v1.15.4", "two-instances"), ("bind-and-serialize", "async-overlap"), ("one-runner", "idle-window")],
)
def test_dask_cluster_agrees_with_bfs(cluster, design, scenario):
    sys_ = system(design, scenario)
    res = partitioned_bfs(sys_, PROPERTIES, Dask(None, cluster.scheduler_address))
    plain = checked(design, scenario)
    assert counts(res) == counts(plain)
    assert set(res.findings) == set(plain.findings)
    assert res.stats.engine == "dask" and res.stats.workers == 2  # one partition per Dask worker
    for f in res.findings.values():
        assert replay(sys_, f.trace.schedule).final == f.trace.final


def test_cli_dask_with_a_scheduler_address(cli, cluster, tmp_path):
    args = ("check", "--design", "v1.15.4", "--scenario", "async-overlap", "--json", "--out", str(tmp_path))
    doc = json.loads(cli(*args, "--engine", "dask", "--scheduler", cluster.scheduler_address, "--symmetry").output)
    seq = json.loads(cli(*args, "--strategy", "bfs").output)
    assert doc["verdict"] == seq["verdict"] == "violated"
    assert doc["stats"]["symmetry"]["represented_states"] == seq["stats"]["states"]
    assert [p["holds"] for p in doc["properties"]] == [p["holds"] for p in seq["properties"]]


def test_cli_dask_embedded_local_cluster(cli, tmp_path):
    """Without --scheduler, an embedded LocalCluster is started for the check and closed after."""
    args = ("check", "--design", "bind-and-serialize", "--scenario", "tool-race", "--json", "--out", str(tmp_path))
    r = cli(*args, "--engine", "dask", "--workers", "2")
    doc = json.loads(r.output)
    seq = json.loads(cli(*args, "--strategy", "bfs").output)
    assert r.exit_code == 0 and doc["verdict"] == seq["verdict"] == "holds"
    assert doc["stats"]["states"] == seq["stats"]["states"] and doc["stats"]["engine"] == "dask"


def test_unreachable_scheduler_is_one_error():
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler"):
        partitioned_bfs(system("v1.15.4", "tool-race"), PROPERTIES, Dask(None, "tcp://127.0.0.1:1", timeout="1s"))

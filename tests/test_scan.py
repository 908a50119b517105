"""qkdsym.scan: grids against contract.curve, engines bit for bit, byte-identical files, resumption, errors."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import qkdsym
from qkdsym.cli import main
from qkdsym.scan import InlineExecutor, parse_axis, scan, write

xr = pytest.importorskip("xarray")

ECS_GRID = {"distance": np.arange(0.0, 201.0, 50.0), "eta_d": [0.5, 0.8]}
BB84_GRID = {"distance": np.arange(0.0, 201.0, 50.0), "e_d": [0.01, 0.033]}


def _digest(path: Path) -> str:
    """A file's bytes, or a folder's files (names and bytes, sorted): one hash."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def ecs_inline(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    d = tmp_path_factory.mktemp("inline")
    ds = scan("ecs-diqkd", ECS_GRID, progress=False, out=d / "s.nc")
    write(ds, d / "s.csv")
    return ds, d


def test_ecs_grid_equals_contract_curve_point_by_point(ecs_inline: tuple) -> None:
    ds, _ = ecs_inline
    assert ds.R.dims == ("distance", "eta_d") and ds.attrs["protocol"] == "ecs-diqkd"
    assert ds.R.attrs["units"] == "bit/round" and ds.distance.attrs["units"] == "km"
    assert ds.mu_opt.attrs["units"] == "photons/pulse"
    for e in ECS_GRID["eta_d"]:
        c = qkdsym.curve("ecs-diqkd", ECS_GRID["distance"], eta_d=e)
        np.testing.assert_array_equal(ds.R.sel(eta_d=e).values, c.R)
        np.testing.assert_array_equal(ds.mu_opt.sel(eta_d=e).values, c.optimal["mu"])
        assert ds.attrs["unit"] == c.unit
    assert '"eta_d": "grid"' in ds.attrs["settings"] and '"mu": "optimised"' in ds.attrs["settings"]


def test_bb84_infinite_decoy_grid_equals_contract_curve() -> None:
    ds = scan("bb84-wcp-decoy", BB84_GRID, decoy="infinite", clock=1e9, progress=False)
    assert list(ds.data_vars) == ["R", "mu_opt", "R_bps"] and ds.R_bps.attrs["units"] == "bit/s"
    for e in BB84_GRID["e_d"]:
        c = qkdsym.curve("bb84-wcp-decoy", BB84_GRID["distance"], e_d=e, decoy="infinite", clock=1e9)
        np.testing.assert_array_equal(ds.R.sel(e_d=e).values, c.R)
        np.testing.assert_array_equal(ds.mu_opt.sel(e_d=e).values, c.optimal["mu"])
        np.testing.assert_array_equal(ds.R_bps.sel(e_d=e).values, c.observables["R_bps"])


def test_chunk_size_does_not_change_numbers(ecs_inline: tuple) -> None:
    ds, _ = ecs_inline
    small = scan("ecs-diqkd", ECS_GRID, chunk=2, progress=False, executor=InlineExecutor())
    assert small.identical(ds)


def test_process_pool_equals_in_process_bit_for_bit_and_files_are_byte_identical(ecs_inline: tuple,
                                                                                  tmp_path: Path) -> None:
    ds, d = ecs_inline
    st: dict = {}
    pooled = scan("ecs-diqkd", ECS_GRID, workers=2, chunk=2, progress=False, out=tmp_path / "s.nc", stats=st)
    assert st["engine"] == "2 processes" and st["computed"] == 6
    assert pooled.identical(ds)
    write(pooled, tmp_path / "s.csv")
    for name in ("s.nc", "s.csv"):
        assert (tmp_path / name).read_bytes() == (d / name).read_bytes()
    assert not (tmp_path / "s.nc.chunks").exists()  # removed once the file is written


@pytest.mark.slow
def test_dask_local_cluster_equals_in_process_bit_for_bit(ecs_inline: tuple, tmp_path: Path) -> None:
    """A real Dask LocalCluster (2 worker processes, one thread each), made by scan (dask=True) and reached
    through its scheduler address (scheduler=...): the same numbers bit for bit, the same file bytes."""
    pytest.importorskip("distributed", reason="dask[distributed] is not installed (pip install 'qkdsym[dask]')")
    import logging

    from distributed import LocalCluster

    ds, d = ecs_inline
    st: dict = {}
    got = scan("ecs-diqkd", ECS_GRID, dask=True, workers=2, progress=False, out=tmp_path / "s.nc", stats=st)
    assert st["engine"] == "dask" and st["computed"] == st["chunks"] == 2
    assert got.identical(ds)
    assert (tmp_path / "s.nc").read_bytes() == (d / "s.nc").read_bytes()
    write(got, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes() == (d / "s.csv").read_bytes()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        st2: dict = {}
        again = scan("ecs-diqkd", ECS_GRID, scheduler=cluster.scheduler_address, chunk=2, progress=False,
                     out=tmp_path / "t.csv", stats=st2)
    assert st2["engine"] == "dask" and st2["computed"] == 6
    assert again.identical(ds) and (tmp_path / "t.csv").read_bytes() == (d / "s.csv").read_bytes()


def test_dask_missing_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_dask(name: str, *a: object, **k: object) -> object:
        if name.startswith("distributed"):
            raise ImportError("no distributed")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ValueError, match=r"pip install 'qkdsym\[dask\]'"):
        scan("ecs-diqkd", {"distance": [0.0]}, dask=True, progress=False)


def test_interrupted_scan_resumes_and_skips_finished_chunks(tmp_path: Path) -> None:
    grid = {"distance": [0.0, 100.0], "eta_d": [0.4, 0.5, 0.6, 0.7, 0.8]}
    out = tmp_path / "r.nc"

    class Stop(Exception):
        pass

    def stop_after_3(done: int, total: int) -> None:
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        scan("ecs-diqkd", grid, out=out, progress=False, on_chunk=stop_after_3)
    assert not out.exists()
    assert len(list((tmp_path / "r.nc.chunks").glob("*.npz"))) == 3
    st: dict = {}
    resumed = scan("ecs-diqkd", grid, out=out, progress=False, stats=st)
    assert (st["chunks"], st["reused"], st["computed"]) == (5, 3, 2)
    fresh = scan("ecs-diqkd", grid, out=tmp_path / "f.nc", progress=False)
    assert resumed.identical(fresh)
    assert out.read_bytes() == (tmp_path / "f.nc").read_bytes()
    # other settings are other chunks: nothing reused
    st2: dict = {}
    scan("ecs-diqkd", grid, out=tmp_path / "g.nc", progress=False, keep_chunks=True, stats=st2, e_d=0.01)
    st3: dict = {}
    scan("ecs-diqkd", grid, out=tmp_path / "g.nc", progress=False, stats=st3, e_d=0.01)
    assert (st2["computed"], st3["reused"], st3["computed"]) == (5, 5, 0)


def test_csv_zarr_and_dict_outputs(ecs_inline: tuple, tmp_path: Path) -> None:
    ds, d = ecs_inline
    text = (d / "s.csv").read_text().splitlines()
    assert text[0] == "# qkdsym scan: ecs-diqkd; R in bit/round"
    assert text[2] == "# units: distance [km], eta_d [1], R [bit/round], mu_opt [photons/pulse]"
    assert text[3] == "distance,eta_d,R,mu_opt" and len(text) == 4 + 10
    assert text[4].startswith("0.0,0.5,") and text[5].startswith("0.0,0.8,")
    assert xr.open_dataset(d / "s.nc").load().identical(ds)
    plain = scan("ecs-diqkd", ECS_GRID, progress=False, labelled=False, out=tmp_path / "p.csv")
    assert isinstance(plain, dict) and plain["dims"] == ("distance", "eta_d")
    np.testing.assert_array_equal(plain["R"], ds.R.values)
    assert (tmp_path / "p.csv").read_bytes() == (d / "s.csv").read_bytes()
    pytest.importorskip("zarr")
    write(ds, tmp_path / "a.zarr")
    write(ds, tmp_path / "b.zarr")
    assert _digest(tmp_path / "a.zarr") == _digest(tmp_path / "b.zarr")
    assert xr.open_zarr(tmp_path / "a.zarr", consolidated=False).load().identical(ds)


def test_memory_is_bounded_by_the_chunk() -> None:
    """A vacuum-weak decoy scan (two free parameters, 784 grid evaluations per point, ~0.14 MiB of
    temporaries per distance) keeps its temporaries to a chunk (~300 distances by default): one call of the
    engine on 10001 distances would peak near 1.4 GiB."""
    grid = {"distance": np.linspace(0.0, 100.0, 500)}
    scan("bb84-wcp-decoy", {"distance": [0.0]}, progress=False)  # compile outside the measurement
    st: dict = {}
    tracemalloc.start()
    try:
        scan("bb84-wcp-decoy", grid, progress=False, stats=st)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert st["chunks"] == 2 and st["chunk_distances"] < 500
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_bad_grids_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"has no grid axis 'g2', 'zz'; its axes are distance \(km\), mu"):
        scan("ecs-diqkd", {"distance": [0.0], "g2": [0.1], "zz": [1.0]}, progress=False)
    with pytest.raises(ValueError, match=r"'eta_d' .* = 1.5 is outside the allowed range \[0, 1\]"):
        scan("ecs-diqkd", {"distance": [0.0], "eta_d": [0.5, 1.5]}, progress=False)
    with pytest.raises(ValueError, match="needs a 'distance' grid axis"):
        scan("ecs-diqkd", {"eta_d": [0.5]}, progress=False)
    with pytest.raises(ValueError, match="both as a grid axis and as a fixed value"):
        scan("ecs-diqkd", {"distance": [0.0], "eta_d": [0.5]}, eta_d=0.4, progress=False)
    with pytest.raises(ValueError, match="outside the allowed range"):
        scan("ecs-diqkd", {"distance": [-1.0]}, progress=False)
    with pytest.raises(ValueError, match=r"should end in \.nc, \.zarr, \.csv"):
        scan("ecs-diqkd", {"distance": [0.0]}, out="x.txt", progress=False)
    with pytest.raises(ValueError, match="does not go with"):
        scan("bb84-wcp-decoy", {"distance": [0.0], "N": [1e10]}, decoy="infinite", progress=False)
    assert parse_axis("N=1e8,1e10,1e12") == ("N", [1e8, 1e10, 1e12])
    assert parse_axis("distance=0:300:1")[1][-1] == 300.0


def test_cli_scan_writes_the_same_file_and_errors_in_one_line(ecs_inline: tuple, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    _, d = ecs_inline
    out = tmp_path / "c.csv"
    assert main(["scan", "ecs-diqkd", "--grid", "distance=0:200:50", "--grid", "eta_d=0.5,0.8", "--out", str(out),
                 "--quiet"]) == 0
    assert out.read_bytes() == (d / "s.csv").read_bytes()
    assert "2 chunks: 2 computed (in-process), 0 reused" in capsys.readouterr().out
    for argv, msg in ((["--grid", "g2=0.1"], "has no grid axis 'g2'"),
                      (["--grid", "eta_d=0.5:0.1:0.1"], "STEP > 0 and STOP >= START"),
                      (["--grid", "eta_d=a,b"], "malformed"),
                      (["--grid", "eta_d=0.5", "--grid", "eta_d=0.6"], "given twice"),
                      (["--dask", "--scheduler", "tcp://x:1"], "not allowed with")):
        rc = main(["scan", "ecs-diqkd", "--grid", "distance=0:10:5", *argv, "--out", str(tmp_path / "e.csv")])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err

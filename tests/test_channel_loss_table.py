"""Loss tables from CSV: parsing, validation errors naming the row, interpolation, round trip."""

import io

import numpy as np
import pytest

from qkdsym.channel.loss_table import LossTable, read_loss_table


def write(tmp_path, text, name="pass.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_loss_db_and_eta(tmp_path):
    p = write(tmp_path, "# a measured pass\ntime_s,elevation_deg,loss_db\n0,10,40\n\n5,20,35\n10,30,30\n")
    tab = read_loss_table(p)
    np.testing.assert_array_equal(tab.time_s, [0, 5, 10])
    np.testing.assert_allclose(tab.eta, [1e-4, 10**-3.5, 1e-3])
    np.testing.assert_allclose(tab.loss_db, [40, 35, 30])
    tab2 = read_loss_table(io.StringIO("eta,time_s\n0.5,1\n0.25,2\n"))
    np.testing.assert_array_equal(tab2.eta, [0.5, 0.25])
    assert tab2.duration_s == 1.0


def test_interpolation_and_window():
    tab = LossTable(np.array([0.0, 10.0, 20.0]), np.array([1e-4, 1e-3, 1e-2]))
    assert tab.eta_at(5) == pytest.approx(10**-3.5)                      # linear in dB
    np.testing.assert_allclose(tab.eta_at(np.array([0, 20])), [1e-4, 1e-2])
    with pytest.raises(ValueError, match=r"'t_s'.* = 25.0 is outside the allowed range \[0, 20\]"):
        tab.eta_at(25)
    w = tab.window(5, 20)
    np.testing.assert_array_equal(w.time_s, [10, 20])
    with pytest.raises(ValueError, match="no rows"):
        tab.window(11, 12)


def test_round_trip_is_exact(tmp_path):
    t = np.linspace(-100, 100, 7)
    tab = LossTable(t, np.exp(-np.abs(t) / 50) * 1e-3)
    for col in ("loss_db", "eta"):
        p = tmp_path / f"rt_{col}.csv"
        tab.to_csv(p, column=col)
        back = read_loss_table(p)
        np.testing.assert_array_equal(back.time_s, tab.time_s)
        if col == "eta":
            np.testing.assert_array_equal(back.eta, tab.eta)
        else:
            np.testing.assert_allclose(back.eta, tab.eta, rtol=1e-14)


@pytest.mark.parametrize("text,message", [
    ("time_s,loss_db\n0,40\n5,abc\n", r"pass.csv, row 2 \(line 3\): loss_db = 'abc' is not a number"),
    ("time_s,loss_db\n0,40\n5,-1\n", r"row 2 \(line 3\): loss_db = -1.0 is outside the allowed range \[0, inf\)"),
    ("time_s,eta\n0,0.5\n5,1.5\n", r"row 2 \(line 3\): eta = 1.5 is outside the allowed range \[0, 1\]"),
    ("time_s,loss_db\n0,40\n0,30\n", r"row 2 \(line 3\): time_s = 0.0 does not increase"),
    ("# c\ntime_s,loss_db\n0,40\n1,nan\n", r"row 2 \(line 4\): loss_db = nan is not finite"),
    ("time_s,loss_db\n0,40\n1\n", r"row 2 \(line 3\): 1 fields, the header has 2"),
    ("time,loss_db\n0,40\n", r"line 1: header \['time', 'loss_db'\] has no column 'time_s'"),
    ("time_s,loss_db,eta\n0,40,0.1\n", "exactly one of the columns 'loss_db' and 'eta'"),
    ("time_s,loss\n0,40\n", "exactly one of the columns 'loss_db' and 'eta'"),
    ("time_s,loss_db\n", "header but no data rows"),
    ("\n# nothing\n", "empty loss table"),
])
def test_errors_name_the_row(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_loss_table(write(tmp_path, text))


def test_missing_file_and_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="cannot read loss table"):
        read_loss_table(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="increase strictly"):
        LossTable(np.array([0.0, 0.0]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="'eta'"):
        LossTable(np.array([0.0, 1.0]), np.array([0.1, 2.0]))

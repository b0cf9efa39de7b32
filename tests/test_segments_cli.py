"""``python -m core segments``: one row per customer through the export writer, JSON of the run."""

import json
import shutil

import pandas as pd
import sqlalchemy as sa

from core import cli


def test_the_command_writes_every_customer_and_prints_the_segments(
    featured_demo_url, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    store = tmp_path / "cli.duckdb"
    shutil.copyfile(sa.make_url(featured_demo_url).database, store)
    url = f"duckdb:///{store}"
    out = tmp_path / "segments.csv"
    assert (
        cli.main(["segments", "--database-url", url, "--k", "4", "--out", str(out), "--json"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    written = pd.read_csv(out, encoding="utf-8-sig", dtype={"customer_id": str})
    assert list(written.columns) == ["customer_id", "segment_id", "segment_name", "shape_cluster"]
    assert written["customer_id"].is_unique and len(written) == summary["customers"] == 120
    assert summary["k"] == 4 and summary["k_chosen_by"] == "analyst"
    assert summary["criterion"]["name"] == "silhouette"
    assert set(summary["criterion"]["values"]) == {str(k) for k in range(2, 9)}
    segments = {segment["segment_id"]: segment for segment in summary["segments"]}
    assert len(segments) == 4
    assert sum(segment["customers"] for segment in segments.values()) == 120
    for segment_id, group in written.groupby("segment_id"):
        assert group["segment_name"].eq(segments[segment_id]["name"]).all()
        assert len(group) == segments[segment_id]["customers"]
        assert segments[segment_id]["rules"] and "overall" in segments[segment_id]["rules"][0]
    assert written["shape_cluster"].notna().all()
    assert summary["shapes"]["k"] == written["shape_cluster"].nunique()

    # A refit keeps the segments' ids and says so.
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    assert cli.main(["segments", "--database-url", url, "--k", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "第 2 次分群" in printed
    again = pd.read_csv(out, encoding="utf-8-sig", dtype={"customer_id": str})
    assert again["segment_id"].tolist() == written["segment_id"].tolist()
    assert not again["segment_name"].eq(written["segment_name"]).any(), "names follow the language"


def test_an_out_of_range_k_is_an_error_in_one_line(featured_demo_url, tmp_path, capsys):
    store = tmp_path / "cli.duckdb"
    shutil.copyfile(sa.make_url(featured_demo_url).database, store)
    code = cli.main(
        ["segments", "--database-url", f"duckdb:///{store}", "--k", "500", "--out", "x.csv"]
    )
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: The number of segments must be between 2 and 20 (you asked for 500)."
    )

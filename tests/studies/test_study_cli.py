"""`workbench study ...` end to end on tiny settings: CSV tables and an HTML figure are written,
the compiled features were checked against PyTorch, bad settings are one-line errors."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import cli

ROOT = Path(__file__).resolve().parents[2]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_study_augment_quick_tiny(tmp_path):
    out = tmp_path / "aug"
    rc = cli.main(["study", "augment", "--quick", "--out", str(out), "--no-progress", "--images", "2",
                   "--views", "4", "--size", "48", "--augmentations", "brightness,scale",
                   "--backbones", "mtcnn_onet"])     # the ResNet-18 path is checked in test_nets
    assert rc == 0
    acc = _rows(out / "augment_accuracy.csv")
    assert {r["augmentation"] for r in acc} == {"brightness", "scale"}
    assert {r["backbone"] for r in acc} == {"mtcnn_onet", "pixel_stats"}
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in acc)
    checks = _rows(out / "augment_checks.csv")
    assert all(float(r["max_abs_err"]) < 1e-3 and int(r["inputs_checked"]) >= 1 for r in checks)
    html = (out / "augment_probe.html").read_text()
    assert "Bokeh" in html and "cdn.bokeh.org" not in html          # inline resources, offline


def test_study_resolution_tiny(tmp_path):
    """A1 on the graph layer: ResNet-18 at 64 and 72 px (72 is the reference: nearest to 224), the
    first two conv tasks tuned 8 trials each, cold and with 72's records as transfer data."""
    out = tmp_path / "res"
    rc = cli.main(["study", "resolution", "--quick", "--out", str(out), "--no-progress",
                   "--resolutions", "64,72", "--layers", "2", "--trials", "8", "--parts", "a1",
                   "--logdir", str(tmp_path / "logs")])
    assert rc == 0
    net = _rows(out / "a1_network.csv")
    assert {(r["resolution"], r["arm"]) for r in net} == {
        (str(res), arm) for res in (64, 72) for arm in ("tuned", "reused_224", "fallback")}
    assert all(float(r["rel_err_vs_torch"]) < 1e-4 and float(r["ms"]) > 0 for r in net)
    assert all(float(r["latency_vs_ref"]) == 1.0 for r in net if r["resolution"] == "72")
    tasks = _rows(out / "a1_tasks.csv")
    assert {r["resolution"] for r in tasks} == {"64", "72"} and len(tasks) == 4
    for r in tasks:
        if r["resolution"] == "72":          # at the reference, "reused" is the tuned config itself
            assert r["reused_config"] == r["config_224"] == r["tuned_config"]
        else:                                # the warm tuner really started from 72's 16 records
            assert int(r["transferred"]) == 16 and r["reused_config"]
    layers = _rows(out / "a1_layers.csv")
    assert {r["layer"] for r in layers} >= {"conv1", "layer1.0.conv1", "layer4.0"}
    # 64 px: every 3x3 stride-1 map is even (16/8/4/2) -> 13 Winograd convs; 72 px: 18/9/5/3 -> 4
    assert {(r["resolution"], r["arm"], r["winograd_convs"]) for r in net} == {
        (str(res), arm, str(n)) for res, n in ((64, 13), (72, 4))
        for arm in ("tuned", "reused_224", "fallback")}
    wino = {(r["resolution"], r["layer"]) for r in layers if r["winograd"] == "True"}
    assert ("64", "layer4.0") in wino and ("72", "layer1.0.conv1") in wino
    assert ("72", "layer2.0") not in wino and ("72", "conv1") not in wino
    table = _rows(out / "a1_layer_table.csv")
    assert all(int(r["graph_winograd_convs"]) == (int(r["count"]) if r["winograd"] == "True" else 0)
               for r in table) and len(table) == 22
    cost = _rows(out / "a1_tuning_cost.csv")
    assert len(cost) == 1 and 1 <= float(cost[0]["cold_median_trials_to_95"]) <= 9
    assert (out / "resolution.html").exists() and (out / "a1_vta.csv").exists()
    assert {"cold-72.jsonl", "cold-64.jsonl", "warm-64.jsonl", "reused-64.jsonl"} <= {
        p.name for p in (tmp_path / "logs").iterdir()}


@pytest.mark.parametrize("argv,msg", [
    (["study", "augment", "--augmentations", "blur"], "unknown augmentation"),
    (["study", "augment", "--size", "20"], "size must be >= 48"),
    (["study", "resolution", "--resolutions", "a,b"], "comma-separated integers"),
    (["study", "resolution", "--parts", "a9"], "--parts"),
    (["study", "nothing"], "invalid choice"),
])
def test_bad_settings_are_one_line_errors(tmp_path, capsys, argv, msg):
    assert cli.main(argv + ["--out", str(tmp_path)] if argv[1] != "nothing" else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: ") and msg in err


def test_help_lists_the_study_command():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "study", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and "resolution" in out.stdout and "--quick" in out.stdout

"""`workbench tune` / `workbench best` from a shell: progress on stderr, resumable log."""
import json

import pytest

from workbench.cli import main


def test_tune_then_best(tmp_path, capsys):
    log = tmp_path / "mm.jsonl"
    args = ["matmul", "M=16", "N=32", "K=8", "--log", str(log)]
    assert main(["tune", *args, "--trials", "4", "--tuner", "random", "--batch", "4", "--number", "1",
                 "--repeat", "1"]) == 0
    out, err = capsys.readouterr()
    assert "4 trials; best config" in out and "GFLOP/s" in out and "matmul" in err
    assert main(["tune", *args, "--trials", "6", "--tuner", "random", "--batch", "4", "--number", "1",
                 "--repeat", "1", "--seed", "1"]) == 0        # resumes: 2 more
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(recs) == 6 and len({r["config"]["index"] for r in recs}) == 6
    capsys.readouterr()
    assert main(["best", *args]) == 0
    out, _ = capsys.readouterr()
    assert "best" in out and "s.cache_write('C', 'local')" in out


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["tune", "conv2d", "layout=NHWC", "--log", str(tmp_path / "x.jsonl")]) == 2
    assert main(["best", "matmul", "M=16", "N=32", "K=8", "--log", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "does not take" in err and "no successful record" in err

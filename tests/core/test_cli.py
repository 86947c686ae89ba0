from workbench.cli import main


def test_ops_lists_catalog(capsys):
    assert main(["ops"]) == 0
    assert "conv2d" in capsys.readouterr().out


def test_lower_and_run(capsys):
    assert main(["lower", "matmul", "M=8", "N=8", "K=8"]) == 0
    assert "def main(A: float32[8, 8]" in capsys.readouterr().out
    assert main(["lower", "matmul", "M=8", "N=8", "K=8", "--pass", "schedule_ops"]) == 0
    assert main(["run", "relu", "shape=(2, 3)"]) == 0
    assert "matches numpy: True" in capsys.readouterr().out


def test_bad_parameters(capsys):
    assert main(["run", "matmul", "M=0"]) == 2
    assert "bad parameters" in capsys.readouterr().err

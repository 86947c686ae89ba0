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


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("workbench: "), err
    assert any(line.startswith("usage: workbench") for line in err[1:]), err
    return err[0]


def test_run_honours_pass(capsys):
    assert main(["run", "relu", "shape=(4,)", "--pass", "storage_flatten"]) == 0
    out = capsys.readouterr().out
    assert "def main(" in out and "matches numpy: True" in out


def test_unknown_pass_is_one_line(capsys):
    assert main(["lower", "matmul", "M=8", "N=8", "K=8", "--pass", "nosuchpass"]) == 2
    line = _error_line(capsys)
    assert "nosuchpass" in line and "storage_flatten" in line


def test_bool_parameter_is_typed(capsys):
    assert main(["run", "dense", "batch=2", "in_dim=3", "out_dim=4", "bias=no"]) == 0
    assert "'bias': False" in capsys.readouterr().out
    assert main(["run", "dense", "bias=maybe"]) == 2
    assert "bias" in _error_line(capsys)


def test_unknown_parameter_and_bad_int(capsys):
    assert main(["run", "matmul", "Q=3"]) == 2
    assert "no parameter 'Q'" in _error_line(capsys)
    assert main(["run", "matmul", "M=big"]) == 2
    assert "integer" in _error_line(capsys)


def test_argparse_errors_have_the_same_form(capsys):
    assert main(["nosuchcommand"]) == 2
    _error_line(capsys)
    assert main(["run", "nosuchop"]) == 2
    _error_line(capsys)

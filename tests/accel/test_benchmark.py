import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "vta_sim.py"


def test_benchmark_quick_mode_prints_all_tables(capsys):
    spec = importlib.util.spec_from_file_location("vta_sim_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick"])
    out = capsys.readouterr().out
    for text in ("Simulator speed", "func MAC/s", "timing MAC/s", "C2-C11", "double util",
                 "Design-space sweep", "1x32_i8w8a32", "total wall time"):
        assert text in out
    assert "NO" not in out.split()  # every functional run was bit-exact


def test_vta_compile_benchmark_one_layer(capsys):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "vta_compile.py"
    spec = importlib.util.spec_from_file_location("vta_compile_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--layers", "C10"])
    out = capsys.readouterr().out
    for text in ("hand 2t / tuned", "tuned config", "compile ms", "mean compute utilization",
                 "bit-exact on every layer: yes", "tuned slower than hand 2t on: no layer"):
        assert text in out, text

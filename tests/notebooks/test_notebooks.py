"""Every notebook runs top to bottom (so none can rot)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()


def test_core_tour_shows_every_primitive_it_promises():
    """The tour is the first thing a user reads: it must exercise what it describes (a regression:
    its conv cell's compute_inline was a silent no-op and its 'tail loop' divided evenly)."""
    nb = nbformat.read(Path(__file__).parents[2] / "notebooks" / "00_core_tour.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for call in (".tile(", ".fuse(", ".unroll(", ".compute_at(", ".cache_read(", ".cache_write(",
                 ".rfactor(", ".compute_inline()", "num_threads", 'after("loop_partition")'):
        assert call in code, call
    assert 'if sc.stages[2].name == "pad"' not in code

"""Transfer learning: records of other workloads of a template fit the model before the first
batch, and that model's picks follow what those records taught (no timing: the records' costs
follow a known rule)."""
import numpy as np

import kernels
from workbench import tune


def _synthetic_records(task, n, rng):
    """n records of `task` whose cost falls with the vector width (tile_x's lanes): wide vectors
    fast, as on a real CPU."""
    out = []
    for i in task.space.sample(rng, n):
        lanes = task.space.get(i)["tile_x"].size[2]
        cost = 1e-3 / lanes * (1 + 0.05 * rng.random())
        out.append({"version": "wb-tune/1", "workload": task.workload_key, "task": task.name,
                    "target": str(task.target), "config": task.space.get(i).to_json(),
                    "result": {"costs": [cost], "error_no": 0}})
    return out


def _lanes(task, indices):
    return np.array([task.space.get(i)["tile_x"].size[2] for i in indices])


def test_transfer_fits_the_model_before_the_first_batch_and_steers_it():
    rng = np.random.default_rng(0)
    others = [tune.Task(kernels.matmul.cpu_template, args=a) for a in [(16, 64, 8), (32, 128, 16)]]
    records = [r for t in others for r in _synthetic_records(t, 24, rng)]
    task = tune.Task(kernels.matmul.cpu_template, args=(8, 32, 4))     # 1008 configs: scored whole
    records.append(_synthetic_records(task, 1, rng)[0])     # its own workload: not transfer

    cold = tune.XGBTuner(task, seed=0)
    assert cold.transferred == 0 and cold.model.base is None
    warm = tune.XGBTuner(task, seed=0, transfer=records)
    assert warm.transferred == 48 and warm.model.base is not None

    batch = warm.next_batch(8)        # nothing of this workload measured yet
    assert len(set(batch)) == 8
    scores = [warm.predicted[i] for i in batch]
    assert len(set(scores)) > 1       # the base model scored them (an unfitted model gives 0s)
    # a space this small is scored whole: the batch is picked from the 2 x 8 best-scored configs
    # (diversity 2: the 8 that cover the most knob values)
    everything = warm.model.predict(list(range(len(task.space))))
    assert min(scores) >= np.sort(everything)[-16] - 1e-9
    # the rule of the other workloads carries over: the picks use the widest vectors
    widest = max(e.size[2] for e in task.space.knobs["tile_x"].entities)
    random_picks = cold.next_batch(8)
    assert _lanes(task, batch).min() >= widest // 2
    assert np.log2(_lanes(task, batch)).mean() > np.log2(_lanes(task, random_picks)).mean() + 1

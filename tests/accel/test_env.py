import dataclasses
import json

import pytest

from accel import vta
from accel.vta.env import CONFIG_DIR


def test_default_is_pynq(env):
    assert (env.BATCH, env.BLOCK_IN, env.BLOCK_OUT) == (1, 16, 16)
    assert (env.INP_WIDTH, env.WGT_WIDTH, env.ACC_WIDTH, env.OUT_WIDTH) == (8, 8, 32, 8)
    assert (env.INP_ELEM_BYTES, env.WGT_ELEM_BYTES, env.ACC_ELEM_BYTES, env.OUT_ELEM_BYTES) == \
        (16, 256, 64, 16)
    assert (env.UOP_BUFF_DEPTH, env.INP_BUFF_DEPTH, env.WGT_BUFF_DEPTH, env.ACC_BUFF_DEPTH,
            env.OUT_BUFF_DEPTH) == (8192, 2048, 1024, 2048, 2048)
    assert env.LOG_OUT_BUFF_SIZE == 15
    assert (env.BUS_WIDTH, env.HW_FREQ) == (64, 100)
    assert env.bitstream == "1x16_i8w8a32_15_15_18_17"
    assert env.MACS_PER_CYCLE == 256
    assert env == vta.Env()


def test_ultra96_variant():
    env = vta.Env.from_json(CONFIG_DIR / "ultra96.json")
    assert (env.BUS_WIDTH, env.HW_FREQ, env.BOARD) == (128, 333, "ultra96")
    assert env.BUS_BYTES == 16


def test_keyword_construction_and_derived():
    env = vta.Env(LOG_BLOCK=5, LOG_INP_BUFF_SIZE=16, LOG_WGT_BUFF_SIZE=20, LOG_ACC_BUFF_SIZE=18)
    assert env.BLOCK_IN == 32 and env.WGT_ELEM_BYTES == 1024
    assert (env.INP_BUFF_DEPTH, env.WGT_BUFF_DEPTH, env.ACC_BUFF_DEPTH) == (2048, 1024, 2048)
    batched = vta.Env(LOG_BATCH=1)
    assert batched.INP_ELEM_BYTES == 32 and batched.ACC_ELEM_BYTES == 128


def test_frozen(env):
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.LOG_BLOCK = 5


@pytest.mark.parametrize("params, name", [
    (dict(LOG_BLOCK=3), "LOG_ACC_BUFF_SIZE"),          # 36-bit micro-op
    (dict(LOG_ACC_BUFF_SIZE=18), "LOG_ACC_BUFF_SIZE"),  # ALU word 1 overflows
    (dict(LOG_INP_BUFF_SIZE=4), "LOG_INP_BUFF_SIZE"),   # smaller than two elements
    (dict(BUS_WIDTH=48), "BUS_WIDTH"),
    (dict(LOG_INP_WIDTH=2), "LOG_INP_WIDTH"),
    (dict(HW_FREQ=0), "HW_FREQ"),
    (dict(HW_VER="0.0.3"), "HW_VER"),
    (dict(LOG_BLOCK="4"), "LOG_BLOCK"),
    (dict(LOG_BLOCK=7), "LOG_BLOCK"),
])
def test_inconsistent_config_names_parameter(params, name):
    with pytest.raises(vta.ConfigError, match=name):
        vta.Env(**params)


def test_from_json_rejects_unknown_key(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"LOG_BLOCK": 4, "LOG_BLOK": 4}))
    with pytest.raises(vta.ConfigError, match="LOG_BLOK"):
        vta.Env.from_json(path)


def test_from_json_round_trip(tmp_path, env):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(env.replace(LOG_UOP_BUFF_SIZE=14).to_dict()))
    loaded = vta.Env.from_json(path)
    assert loaded.UOP_BUFF_DEPTH == 4096 and loaded.replace(LOG_UOP_BUFF_SIZE=15) == env


def test_missing_config_file_names_path(tmp_path):
    with pytest.raises(vta.ConfigError, match="nope.json"):
        vta.Env.from_json(tmp_path / "nope.json")


def test_uop_buffer_too_large_for_the_gemm_field_is_a_config_error(env):
    """uop_bgn/uop_end take 2*depth+1 bits of GEMM word 0: 2^14 uops do not fit (audit finding);
    the error comes when the configuration is made, not when the first GEMM is encoded."""
    with pytest.raises(vta.ConfigError, match="LOG_UOP_BUFF_SIZE=16.*word 0"):
        env.replace(LOG_UOP_BUFF_SIZE=16)
    assert env.replace(LOG_UOP_BUFF_SIZE=15).UOP_BUFF_DEPTH == 8192

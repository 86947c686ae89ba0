"""Hardware configuration of a VTA instance (``vta_config.json`` plus timing parameters).

All size parameters are log2, as in VTA's ``config/vta_config.json``; buffer sizes are bytes.
Derived quantities (BATCH, BLOCK_IN, element bytes, buffer depths, ISA field widths) are
properties so that ``dataclasses.replace(env, LOG_BLOCK=5)`` stays consistent for design-space
exploration.  An inconsistent configuration raises ConfigError naming the parameter.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

# Fixed ISA widths from hw_spec_const.h: they do not depend on the configuration.
OPCODE_BITS = 3
MEMOP_SRAM_ADDR_BITS = 16
MEMOP_DRAM_ADDR_BITS = 32
MEMOP_SIZE_BITS = 16
MEMOP_STRIDE_BITS = 16
MEMOP_PAD_BITS = 4
LOOP_ITER_BITS = 14
ALU_OPCODE_BITS = 3
ALU_IMM_BITS = 16
UOP_BITS = 32
INSN_BYTES = 16
PAGE_BYTES = 4096  # the runtime requires one element to fit in one DMA page


@dataclass(frozen=True)
class Env:
    """A VTA hardware configuration.  ``Env()`` is the Pynq default."""

    TARGET: str = "sim"
    HW_VER: str = "0.0.2"
    LOG_INP_WIDTH: int = 3
    LOG_WGT_WIDTH: int = 3
    LOG_ACC_WIDTH: int = 5
    LOG_BATCH: int = 0
    LOG_BLOCK: int = 4
    LOG_UOP_BUFF_SIZE: int = 15
    LOG_INP_BUFF_SIZE: int = 15
    LOG_WGT_BUFF_SIZE: int = 18
    LOG_ACC_BUFF_SIZE: int = 17
    # Board and timing model (not part of VTA's json; VTA derives them from TARGET).
    BOARD: str = "pynq"
    HW_FREQ: int = 100          # MHz
    BUS_WIDTH: int = 64         # AXI data width in bits, one beat per cycle
    DRAM_LATENCY: int = 32      # cycles from a DMA request to its first beat
    PIPELINE_FILL: int = 4      # cycles to fill the GEMM/ALU pipeline per instruction
    GEMM_II: int = 1            # cycles per GEMM micro-op iteration (HLS pipeline II)
    ALU_II: int = 2             # cycles per ALU iteration: the register file has one read port
    CMD_QUEUE_DEPTH: int = 512  # command FIFO entries per module (Vivado block design)
    DEP_QUEUE_DEPTH: int = 1024  # dependency-token FIFO entries
    # 1: fetch, load, compute (uop/acc) and store DMA share one DRAM port, as VTA's AXI masters
    # do through the Zynq HP port (Vivado block design): one transfer's beats at a time.
    DRAM_SHARED_PORT: int = 1
    # Cycles to drain and refill the GEMM/ALU pipeline at each (iter_out, iter_in) iteration:
    # HLS pipelines only the uop loop (vta.cc: PIPELINE II=1 on the uop loop, the two outer
    # loops are not flattened), so each outer iteration pays the pipeline depth again.
    LOOP_REFILL: int = 4

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{f.name}={value!r}: expected an integer")
            if f.type == "str" and not isinstance(value, str):
                raise ConfigError(f"{f.name}={value!r}: expected a string")
        self._validate()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def default(cls) -> "Env":
        return cls.from_json(CONFIG_DIR / "default.json")

    @classmethod
    def from_json(cls, path) -> "Env":
        path = Path(path)
        try:
            mtime = path.stat().st_mtime_ns  # part of the cache key: an edited file reloads
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read configuration ({exc.strerror})") from None
        return _load_json(str(path), mtime)

    @classmethod
    def from_dict(cls, params: dict) -> "Env":
        known = {f.name for f in dataclasses.fields(cls)}
        for key in params:
            if key not in known:
                raise ConfigError(f"unknown configuration parameter {key!r}")
        return cls(**params)

    def replace(self, **changes) -> "Env":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ derived values
    INP_WIDTH = property(lambda self: 1 << self.LOG_INP_WIDTH)
    WGT_WIDTH = property(lambda self: 1 << self.LOG_WGT_WIDTH)
    ACC_WIDTH = property(lambda self: 1 << self.LOG_ACC_WIDTH)
    OUT_WIDTH = property(lambda self: 1 << self.LOG_INP_WIDTH)
    BATCH = property(lambda self: 1 << self.LOG_BATCH)
    BLOCK_IN = property(lambda self: 1 << self.LOG_BLOCK)
    BLOCK_OUT = property(lambda self: 1 << self.LOG_BLOCK)
    LOG_OUT_BUFF_SIZE = property(
        lambda self: self.LOG_ACC_BUFF_SIZE + self.LOG_INP_WIDTH - self.LOG_ACC_WIDTH)

    @property
    def INP_ELEM_BYTES(self) -> int:
        return self.BATCH * self.BLOCK_IN * self.INP_WIDTH // 8

    @property
    def WGT_ELEM_BYTES(self) -> int:
        return self.BLOCK_OUT * self.BLOCK_IN * self.WGT_WIDTH // 8

    @property
    def ACC_ELEM_BYTES(self) -> int:
        return self.BATCH * self.BLOCK_OUT * self.ACC_WIDTH // 8

    @property
    def OUT_ELEM_BYTES(self) -> int:
        return self.BATCH * self.BLOCK_OUT * self.OUT_WIDTH // 8

    UOP_ELEM_BYTES = UOP_BITS // 8

    # log2 depths, named as hw_spec_const.h's VTA_LOG_*_BUFF_DEPTH
    LOG_UOP_BUFF_DEPTH = property(lambda self: self.LOG_UOP_BUFF_SIZE - 2)
    LOG_INP_BUFF_DEPTH = property(lambda self: self.LOG_INP_BUFF_SIZE - _log2(self.INP_ELEM_BYTES))
    LOG_WGT_BUFF_DEPTH = property(lambda self: self.LOG_WGT_BUFF_SIZE - _log2(self.WGT_ELEM_BYTES))
    LOG_ACC_BUFF_DEPTH = property(lambda self: self.LOG_ACC_BUFF_SIZE - _log2(self.ACC_ELEM_BYTES))
    UOP_BUFF_DEPTH = property(lambda self: 1 << self.LOG_UOP_BUFF_DEPTH)
    INP_BUFF_DEPTH = property(lambda self: 1 << self.LOG_INP_BUFF_DEPTH)
    WGT_BUFF_DEPTH = property(lambda self: 1 << self.LOG_WGT_BUFF_DEPTH)
    ACC_BUFF_DEPTH = property(lambda self: 1 << self.LOG_ACC_BUFF_DEPTH)
    OUT_BUFF_DEPTH = property(lambda self: 1 << self.LOG_ACC_BUFF_DEPTH)  # out_mem has acc depth

    @property
    def MEMOP_ID_BITS(self) -> int:
        # HW_VER 0.0.2 widened the memory-type field to make room for ACC_8BIT (tvm-vta PR #9).
        return 3 if self.HW_VER >= "0.0.2" else 2

    @property
    def UOP_SRC_BITS(self) -> int:
        # 0.0.2: the src field indexes inp (GEMM) or acc (ALU), so it takes the wider of the two.
        if self.HW_VER >= "0.0.2":
            return max(self.LOG_ACC_BUFF_DEPTH, self.LOG_INP_BUFF_DEPTH)
        return self.LOG_INP_BUFF_DEPTH

    # ------------------------------------------------------------------ TVM's compiler names
    # SRAM scopes (registered with the schedule's scope registry by accel.vta.compiler), the
    # pragma keys of DMA copies and ALU kernels, and the dtypes of the VTA tutorials.
    inp_scope = "local.inp_buffer"
    wgt_scope = "local.wgt_buffer"
    acc_scope = "local.acc_buffer"
    dma_copy = "dma_copy"
    alu = "alu"
    inp_dtype = property(lambda self: f"int{self.INP_WIDTH}")
    wgt_dtype = property(lambda self: f"int{self.WGT_WIDTH}")
    acc_dtype = property(lambda self: f"int{self.ACC_WIDTH}")
    out_dtype = property(lambda self: f"int{self.OUT_WIDTH}")

    @property
    def gemm(self):
        """The GEMM tensor intrinsic: ``s[C].tensorize(b_tns, env.gemm)``."""
        from .compiler.intrin import gemm_intrin
        return gemm_intrin(self)

    def scope_capacity(self, scope: str) -> int:
        """Bytes of the SRAM behind a scope (inp/wgt/acc) in this configuration."""
        table = {self.inp_scope: 1 << self.LOG_INP_BUFF_SIZE,
                 self.wgt_scope: 1 << self.LOG_WGT_BUFF_SIZE,
                 self.acc_scope: 1 << self.LOG_ACC_BUFF_SIZE}
        if scope not in table:
            raise ConfigError(f"scope {scope!r} is not a VTA SRAM; VTA's are {list(table)}")
        return table[scope]

    BUS_BYTES = property(lambda self: self.BUS_WIDTH // 8)
    MACS_PER_CYCLE = property(lambda self: self.BATCH * self.BLOCK_IN * self.BLOCK_OUT)

    @property
    def bitstream(self) -> str:
        return (f"{self.BATCH}x{self.BLOCK_IN}_i{self.INP_WIDTH}w{self.WGT_WIDTH}a{self.ACC_WIDTH}"
                f"_{self.LOG_UOP_BUFF_SIZE}_{self.LOG_INP_BUFF_SIZE}_{self.LOG_WGT_BUFF_SIZE}"
                f"_{self.LOG_ACC_BUFF_SIZE}")

    @property
    def MODEL(self) -> str:
        return f"{self.TARGET}_{self.bitstream}"

    def __str__(self) -> str:
        return f"VTA {self.MODEL} @ {self.HW_FREQ} MHz, {self.BUS_WIDTH}-bit bus"

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        if self.HW_VER not in ("0.0.1", "0.0.2"):
            raise ConfigError(f"HW_VER={self.HW_VER!r}: supported versions are '0.0.1', '0.0.2'")
        # The datapath is modelled with numpy int8/int32 arrays.
        for name, want in (("LOG_INP_WIDTH", 3), ("LOG_WGT_WIDTH", 3), ("LOG_ACC_WIDTH", 5)):
            if getattr(self, name) != want:
                raise ConfigError(f"{name}={getattr(self, name)}: only {1 << want}-bit values "
                                  f"are modelled (set {name}={want})")
        for name in ("LOG_BATCH", "LOG_BLOCK"):
            if not 0 <= getattr(self, name) <= 6:
                raise ConfigError(f"{name}={getattr(self, name)}: must be in 0..6")
        elems = {"INP": self.INP_ELEM_BYTES, "WGT": self.WGT_ELEM_BYTES, "ACC": self.ACC_ELEM_BYTES}
        for kind, nbytes in elems.items():
            if nbytes > PAGE_BYTES:
                raise ConfigError(f"LOG_BLOCK={self.LOG_BLOCK}/LOG_BATCH={self.LOG_BATCH}: one "
                                  f"{kind} element is {nbytes} B, more than a {PAGE_BYTES} B page")
            depth = getattr(self, f"LOG_{kind}_BUFF_DEPTH")
            param = f"LOG_{kind}_BUFF_SIZE"
            if depth < 1:
                raise ConfigError(f"{param}={getattr(self, param)}: the buffer holds fewer than "
                                  f"two {nbytes} B elements")
            if depth > MEMOP_SRAM_ADDR_BITS:
                raise ConfigError(f"{param}={getattr(self, param)}: depth 2^{depth} exceeds the "
                                  f"{MEMOP_SRAM_ADDR_BITS}-bit sram_base field")
        if self.LOG_UOP_BUFF_DEPTH < 1:
            raise ConfigError(f"LOG_UOP_BUFF_SIZE={self.LOG_UOP_BUFF_SIZE}: the uop buffer holds "
                              "fewer than two micro-ops")
        # GEMM/ALU word 0: header 7 + reset 1 + uop_bgn u + uop_end u+1 + iter_out/in 2x14 bits
        gemm_bits = 7 + 1 + 2 * self.LOG_UOP_BUFF_DEPTH + 1 + 2 * LOOP_ITER_BITS
        if gemm_bits > 64:
            raise ConfigError(
                f"LOG_UOP_BUFF_SIZE={self.LOG_UOP_BUFF_SIZE}: uop depth 2^{self.LOG_UOP_BUFF_DEPTH}"
                f" needs {gemm_bits} bits in GEMM/ALU word 0 (uop_bgn, uop_end), more than 64; "
                f"at most LOG_UOP_BUFF_SIZE={(64 - 37) // 2 + 2}")
        uop_bits = self.LOG_ACC_BUFF_DEPTH + self.UOP_SRC_BITS + self.LOG_WGT_BUFF_DEPTH
        if uop_bits > UOP_BITS:
            raise ConfigError(
                f"LOG_ACC_BUFF_SIZE/LOG_INP_BUFF_SIZE/LOG_WGT_BUFF_SIZE: micro-op indices need "
                f"{self.LOG_ACC_BUFF_DEPTH}+{self.UOP_SRC_BITS}+{self.LOG_WGT_BUFF_DEPTH}="
                f"{uop_bits} bits, more than the {UOP_BITS}-bit micro-op")
        a, i, w = self.LOG_ACC_BUFF_DEPTH, self.LOG_INP_BUFF_DEPTH, self.LOG_WGT_BUFF_DEPTH
        if 2 * (a + i + w) > 64:
            raise ConfigError(f"LOG_INP_BUFF_SIZE/LOG_WGT_BUFF_SIZE/LOG_ACC_BUFF_SIZE: GEMM "
                              f"index factors need {2 * (a + i + w)} bits, more than 64")
        alu_bits = 4 * a + ALU_OPCODE_BITS + 1 + ALU_IMM_BITS
        if alu_bits > 64:
            raise ConfigError(f"LOG_ACC_BUFF_SIZE={self.LOG_ACC_BUFF_SIZE}: acc depth 2^{a} makes "
                              f"ALU word 1 {alu_bits} bits, more than 64 (at most 2^11 entries)")
        if self.BUS_WIDTH < 8 or self.BUS_WIDTH & (self.BUS_WIDTH - 1):
            raise ConfigError(f"BUS_WIDTH={self.BUS_WIDTH}: must be a power of two >= 8 bits")
        for name in ("HW_FREQ", "GEMM_II", "ALU_II", "CMD_QUEUE_DEPTH", "DEP_QUEUE_DEPTH"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.DRAM_SHARED_PORT not in (0, 1):
            raise ConfigError(f"DRAM_SHARED_PORT={self.DRAM_SHARED_PORT}: must be 0 or 1")
        for name in ("DRAM_LATENCY", "PIPELINE_FILL", "LOOP_REFILL"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 0")


def _log2(n: int) -> int:
    return n.bit_length() - 1


@functools.lru_cache(maxsize=32)
def _load_json(path: str, mtime: int) -> Env:
    try:
        with open(path) as fh:
            params = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a JSON object of parameters")
    return Env.from_dict(params)

"""Vectorizable float32 exp, log, tanh and sigmoid, emitted as LLVM IR functions.

LLVM's `llvm.exp.v16f32` has no vector implementation without a vector math library: it becomes 16
calls of libm's expf. These are polynomial approximations (Cephes' single-precision ones) written as
straight-line IR on any vector width, inlined where they are used, so the loop stays vector code:

- exp:  x = k ln2 + r (Cody-Waite, |r| <= ln2/2), exp(r) by a degree-6 polynomial, times 2^k built
        from the exponent bits in two halves (so gradual underflow to denormals and overflow to inf
        come out right).
- log:  x = m 2^e with m in [sqrt(1/2), sqrt(2)) (denormal inputs rescaled first), log(m) by a
        degree-9 polynomial in m - 1, plus e ln2 in two parts.
- tanh: odd polynomial for |x| < 0.625, else sign(x) (1 - 2 / (exp(2|x|) + 1)).
- sigmoid: 1 / (1 + exp(-|x|)), times exp(-|x|) for x < 0 (no overflow, denormal results kept).

Special values follow C99/numpy: NaN in -> NaN out, exp(-inf) = 0, exp(+inf) = inf, log(0) = -inf,
log(x < 0) = NaN, log(inf) = inf, tanh(+-inf) = +-1. Accuracy: within a few ulp of numpy over the
whole float32 range (tests/codegen/test_vecmath.py sweeps it). float64 uses libm (scalar calls).
sqrt is `llvm.sqrt`, which is a vector instruction.
"""
from __future__ import annotations

from .builder import FunctionBuilder, Val, _lanes_of, _suffix
from .llvm_types import vec

FP = "contract"
VECTOR_MATH = ("exp", "log", "tanh", "sigmoid")

_EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
             5.0000001201e-1)
_LOG_POLY = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
             -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
_TANH_POLY = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
              -3.33332819422e-1)
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
_LOG2E = 1.44269504088896341


class _MathFn(FunctionBuilder):
    """The body of one math function on type `ty` (float or <n x float>)."""

    def __init__(self, mod, name: str, ty: str):
        super().__init__(mod, name, [(ty, "%x")], linkage="internal ", attrs="alwaysinline ", ret=ty)
        self.ty = ty
        self.ity = vec("i32", _lanes_of(ty))
        self.x = Val("%x", ty)

    def f(self, v: float) -> Val:
        return self.const_like(v, self.ty)

    def i(self, v: int) -> Val:
        return self.const_like(v, self.ity)

    def fop(self, name: str, a: Val, b: Val) -> Val:
        return self.binop(name, a, b, FP)

    def fcmp(self, pred: str, a: Val, b: Val) -> Val:
        return self.op(f"fcmp {pred} {a}, {b.ref}", vec("i1", _lanes_of(a.ty)))

    def intr(self, name: str, *args: Val) -> Val:
        fn = self.mod.intrinsic(name, args[0].ty, [a.ty for a in args], _suffix(args[0].ty))
        return self.call(fn, args[0].ty, list(args))

    def horner(self, coeffs, z: Val) -> Val:
        p = self.f(coeffs[0])
        for c in coeffs[1:]:
            p = self.fop("fadd", self.fop("fmul", p, z), self.f(c))
        return p

    def bits(self, v: Val) -> Val:
        return self.op(f"bitcast {v} to {self.ity}", self.ity)

    def from_bits(self, v: Val) -> Val:
        return self.op(f"bitcast {v} to {self.ty}", self.ty)

    # -- the functions ----------------------------------------------------------------------------
    def exp(self, x: Val) -> Val:
        xc = self.intr("maxnum", self.intr("minnum", x, self.f(88.8)), self.f(-104.0))
        k = self.intr("roundeven", self.fop("fmul", xc, self.f(_LOG2E)))
        r = self.fop("fsub", xc, self.fop("fmul", k, self.f(_LN2_HI)))   # exact: k*LN2_HI has few bits
        r = self.fop("fsub", r, self.fop("fmul", k, self.f(_LN2_LO)))
        z = self.fop("fmul", r, r)
        y = self.fop("fadd", self.fop("fadd", self.fop("fmul", self.horner(_EXP_POLY, r), z), r), self.f(1.0))
        ki = self.op(f"fptosi {k} to {self.ity}", self.ity)             # k in [-150, 128]: no overflow
        k1 = self.binop("ashr", ki, self.i(1))
        k2 = self.binop("sub", ki, k1)
        s1 = self.from_bits(self.binop("shl", self.binop("add", k1, self.i(127)), self.i(23)))
        s2 = self.from_bits(self.binop("shl", self.binop("add", k2, self.i(127)), self.i(23)))
        y = self.fop("fmul", self.fop("fmul", y, s1), s2)
        y = self.select(self.fcmp("olt", x, self.f(-104.0)), self.f(0.0), y)
        return self.select(self.fcmp("uno", x, x), x, y)

    def log(self, x: Val) -> Val:
        tiny = self.fcmp("olt", x, self.f(1.1754943508222875e-38))         # denormal (or <= 0)
        xs = self.select(tiny, self.fop("fmul", x, self.f(8388608.0)), x)   # * 2^23
        b = self.bits(xs)
        e = self.binop("sub", self.binop("and", self.binop("lshr", b, self.i(23)), self.i(255)), self.i(126))
        e = self.binop("sub", e, self.select(tiny, self.i(23), self.i(0)))
        m = self.from_bits(self.binop("or", self.binop("and", b, self.i(0x807FFFFF)), self.i(0x3F000000)))
        low = self.fcmp("olt", m, self.f(0.707106781186547524))
        e = self.binop("sub", e, self.op(f"zext {low} to {self.ity}", self.ity))
        m = self.fop("fsub", self.select(low, self.fop("fadd", m, m), m), self.f(1.0))
        ef = self.op(f"sitofp {e} to {self.ty}", self.ty)
        z = self.fop("fmul", m, m)
        y = self.fop("fmul", self.fop("fmul", self.horner(_LOG_POLY, m), m), z)
        y = self.fop("fadd", y, self.fop("fmul", ef, self.f(_LN2_LO)))
        y = self.fop("fsub", y, self.fop("fmul", z, self.f(0.5)))
        y = self.fop("fadd", self.fop("fadd", m, y), self.fop("fmul", ef, self.f(_LN2_HI)))
        y = self.select(self.fcmp("oeq", x, self.f(float("inf"))), x, y)
        y = self.select(self.fcmp("oeq", x, self.f(0.0)), self.f(float("-inf")), y)
        return self.select(self.fcmp("ult", x, self.f(0.0)), self.f(float("nan")), y)

    def tanh(self, x: Val) -> Val:
        ax = self.intr("fabs", x)
        z = self.fop("fmul", x, x)
        small = self.fop("fadd", self.fop("fmul", self.fop("fmul", self.horner(_TANH_POLY, z), z), x), x)
        e = self.exp(self.fop("fadd", ax, ax))
        big = self.fop("fsub", self.f(1.0), self.fop("fdiv", self.f(2.0), self.fop("fadd", e, self.f(1.0))))
        # copysign: the sign of tanh is the sign of x, also for -0.0 (the polynomial gives +0.0)
        return self.intr("copysign", self.select(self.fcmp("olt", ax, self.f(0.625)), small, big), x)

    def sigmoid(self, x: Val) -> Val:
        # e = exp(-|x|) never overflows: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (which keeps
        # the denormal results of very negative x that 1 / (1 + exp(-x)) rounds to 0)
        e = self.exp(self.op(f"fneg {self.intr('fabs', x)}", self.ty))
        num = self.select(self.fcmp("olt", x, self.f(0.0)), e, self.f(1.0))
        return self.fop("fdiv", num, self.fop("fadd", self.f(1.0), e))


def math_function(mod, name: str, ty: str) -> str:
    """The LLVM function computing float32 `name` on type `ty` (defined once per module)."""
    fname = f"@wb.{name}.{_suffix(ty)}"
    if fname not in mod.decls:
        fn = _MathFn(mod, fname[1:], ty)
        fn.finish(getattr(fn, name)(fn.x))
        mod.decls[fname] = ""          # defined above; recorded so it is emitted once
    return fname

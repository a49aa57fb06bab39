"""`gan_tf.hardware`: which CPUs compute bfloat16, and the warning a slow precision gets."""

import pytest

from gan_tf import hardware

ZEN4 = "fpu sse2 avx avx2 fma avx512f avx512bw avx512_bf16 avx512_vnni".split()
ZEN1 = "fpu sse2 avx avx2 fma".split()
SAPPHIRE_RAPIDS = "avx2 avx512f avx512_fp16 amx_bf16 amx_tile".split()


def test_cpu_flags_are_read_from_the_first_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                       "flags\t\t: fpu avx2 avx512_bf16\nbugs\t\t: sysret_ss_attrs\n"
                       "processor\t: 1\nflags\t\t: something else\n")
    assert hardware.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert hardware.cpu_flags(str(tmp_path / "missing")) is None
    (tmp_path / "no_flags").write_text("processor\t: 0\n")
    assert hardware.cpu_flags(str(tmp_path / "no_flags")) is None


INTEL_EMR_CPUINFO = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n"
                     "model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 avx512f "
                     "avx512_bf16 amx_bf16 amx_tile\n\nprocessor\t: 1\nmodel name\t: other\n")
ZEN1_CPUINFO = ("processor\t: 0\ncpu family\t: 23\nmodel\t\t: 1\n"
                "model name\t: AMD EPYC 7551 32-Core Processor\nflags\t\t: fpu avx avx2 fma\n")


@pytest.mark.parametrize("text, expected", [
    (INTEL_EMR_CPUINFO, "Intel(R) Xeon(R) Processor (family 6 model 207); AVX-512, AVX-512 BF16, "
                        "AMX-BF16; 2 cores"),
    (ZEN1_CPUINFO, "AMD EPYC 7551 32-Core Processor (family 23 model 1); AVX2 only; 2 cores"),
    # No "flags" (an ARM kernel names them "Features"): the vector units are left unsaid.
    ("processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\n",
     "unknown CPU (family ? model ?); 2 cores"),
])
def test_describe_cpu_names_the_model_and_the_vector_units_that_decide_speed(
        text, expected, tmp_path, monkeypatch):
    monkeypatch.setattr(hardware.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert hardware.describe_cpu(str(cpuinfo)) == expected
    assert hardware.describe_cpu(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("flags, environ, expected", [
    (ZEN4, {}, True),
    (SAPPHIRE_RAPIDS, {}, True),
    (ZEN1, {}, False),
    (None, {}, None),
    # oneDNN capped below bfloat16 arithmetic computes it as float32, whatever the CPU has.
    (ZEN4, {"ONEDNN_MAX_CPU_ISA": "AVX2"}, False),
    (ZEN4, {"ONEDNN_MAX_CPU_ISA": "avx512_core"}, False),
    (ZEN4, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, True),
    (ZEN4, {"ONEDNN_MAX_CPU_ISA": "ALL"}, True),
])
def test_bfloat16_in_hardware(flags, environ, expected):
    assert hardware.cpu_computes_bfloat16(flags and set(flags), environ) is expected


def test_only_bfloat16_on_a_cpu_without_it_is_warned_about():
    warning = hardware.precision_warning("mixed_bfloat16", False, set(ZEN1), {})
    assert "--precision=float32" in warning and "AVX-512 BF16" in warning
    assert hardware.precision_warning("mixed_bfloat16", False, set(ZEN4), {}) is None
    assert hardware.precision_warning("mixed_bfloat16", True, set(ZEN1), {}) is None  # a GPU
    assert hardware.precision_warning("mixed_bfloat16", False, None, {}) is None  # unknown
    assert hardware.precision_warning("float32", False, set(ZEN1), {}) is None


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "float32"])
@pytest.mark.slow
def test_train_warns_once_at_start_on_a_cpu_without_bfloat16(precision, make_tiny_config,
                                                             monkeypatch, messages):
    from gan_tf import train_lib

    monkeypatch.setattr(hardware, "cpu_flags", lambda: set(ZEN1))
    train_lib.train(make_tiny_config(epochs=1, precision=precision), verbose=0)
    warnings = [m for m in messages if "mixed_bfloat16 on a CPU without" in m]
    assert len(warnings) == (precision == "mixed_bfloat16")
    if warnings:
        assert messages.index(warnings[0]) < 2  # before training starts

"""What this machine's CPU can do fast, read without TensorFlow (Linux `/proc/cpuinfo`).

TensorFlow runs convolutions and matrix products through oneDNN on x86 CPUs. bfloat16 is
fast only where the CPU computes it in hardware (AVX-512 BF16, or AMX); elsewhere oneDNN
converts to float32 and back around every operation, and a DCGAN step under
`mixed_bfloat16` was measured 2.4x (AVX-512 without BF16) to 5x (AVX2-only AMD Zen 1)
slower than in float32 (BUILD_NOTES.md).
"""

import os

# oneDNN's ISA caps (the ONEDNN_MAX_CPU_ISA environment variable) below bfloat16 arithmetic.
_CAPS_WITHOUT_BFLOAT16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE",
                          "AVX512_CORE_VNNI")
_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


# The vector units that decide how fast gan_tf trains on a CPU, as /proc/cpuinfo names them.
_VECTOR_UNITS = (("avx512f", "AVX-512"), ("avx512_bf16", "AVX-512 BF16"), ("amx_bf16", "AMX-BF16"))


def _cpuinfo_fields(cpuinfo_path):
    """The first processor's fields of a /proc/cpuinfo file (name -> text), or None."""
    fields = {}
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                name, colon, value = line.partition(":")
                name = name.strip()
                if fields and name in ("", "processor"):
                    break  # the first processor's block has ended
                if colon:
                    fields.setdefault(name, value.strip())
    except OSError:
        return None
    return fields or None


def _flags_of(fields):
    """The feature flags among `_cpuinfo_fields`' result, or None where it has none."""
    if not fields or "flags" not in fields:
        return None
    return set(fields["flags"].split())


def cpu_flags(cpuinfo_path="/proc/cpuinfo"):
    """The set of the CPU's feature flags, or None where they cannot be read (not Linux)."""
    return _flags_of(_cpuinfo_fields(cpuinfo_path))


def describe_cpu(cpuinfo_path="/proc/cpuinfo"):
    """This machine's CPU in one line, for the record beside a measured time.

    Its model name, family and model number, the vector units that decide gan_tf's speed
    (AVX-512, AVX-512 BF16, AMX-BF16, else "AVX2 only") and the cores this process may use,
    e.g. "Intel(R) Xeon(R) Processor (family 6 model 207); AVX-512, AVX-512 BF16, AMX-BF16;
    2 cores". Speeds differ about 5x between the CPUs this project meets (BUILD_NOTES.md,
    "Current figures"), so a figure without this line cannot be compared. None where
    /proc/cpuinfo cannot be read.
    """
    fields = _cpuinfo_fields(cpuinfo_path)
    if not fields:
        return None
    parts = [f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')} "
             f"model {fields.get('model', '?')})"]
    flags = _flags_of(fields)
    if flags is not None:
        units = [label for flag, label in _VECTOR_UNITS if flag in flags]
        parts.append(", ".join(units) or ("AVX2 only" if "avx2" in flags else "no AVX2"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts.append(f"{cores} cores")
    return "; ".join(parts)


def cpu_computes_bfloat16(flags, environ=None):
    """True if oneDNN computes bfloat16 in hardware here, False if not, None if unknown.

    Args:
        flags: the CPU's feature flags (`cpu_flags()`), or None if unknown.
        environ: the environment to read ONEDNN_MAX_CPU_ISA from. Defaults to `os.environ`.
    """
    if flags is None:
        return None
    cap = (os.environ if environ is None else environ).get("ONEDNN_MAX_CPU_ISA", "")
    if cap.strip().upper() in _CAPS_WITHOUT_BFLOAT16:
        return False
    return any(flag in flags for flag in _BFLOAT16_FLAGS)


def precision_warning(precision, on_accelerator, flags, environ=None):
    """A one-paragraph warning when `precision` will be slow on this CPU, else None.

    Args:
        precision: "float32", "mixed_bfloat16" or "mixed_float16".
        on_accelerator: True when training runs on a GPU or TPU (no warning then).
        flags: the CPU's feature flags (`cpu_flags()`), or None if unknown (no warning).
        environ: as in `cpu_computes_bfloat16`.
    """
    if on_accelerator or precision != "mixed_bfloat16":
        return None
    if cpu_computes_bfloat16(flags, environ) is not False:
        return None
    return ("Warning: --precision=mixed_bfloat16 on a CPU without bfloat16 arithmetic (no "
            "AVX-512 BF16 or AMX): every operation converts to float32 and back, measured "
            "2.4x to 5x slower than float32. Use --precision=float32 here; bfloat16 pays "
            "off on CPUs with AVX-512 BF16 (AMD Zen 4 and later, Intel Cooper Lake and "
            "Sapphire Rapids and later), TPUs and recent GPUs.")


def available_memory(meminfo_path="/proc/meminfo"):
    """Bytes of memory available to new allocations now (Linux `MemAvailable`, also capped
    by a cgroup limit where one is set), or None where it cannot be read."""
    available = None
    try:
        with open(meminfo_path, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        return None
    limit = _cgroup_memory_left()
    if available is not None and limit is not None:
        available = min(available, limit)
    return available


def _cgroup_memory_left(folder="/sys/fs/cgroup"):
    """Bytes below this process's cgroup v2 memory limit, or None without a limit."""
    try:
        with open(os.path.join(folder, "memory.max"), encoding="utf-8") as stream:
            limit = stream.read().strip()
        if limit == "max":
            return None
        with open(os.path.join(folder, "memory.current"), encoding="utf-8") as stream:
            used = int(stream.read().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None

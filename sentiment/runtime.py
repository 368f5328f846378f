"""What the machine is: the CPU's name and its vector units, as benchmarks print them and as OpenBLAS wants them."""


def openblas_core(cpuinfo="/proc/cpuinfo"):
    """OPENBLAS_CORETYPE for this CPU's vector units (AVX-512 -> SkylakeX, AVX2 -> Haswell), or None."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    if "avx512f" in flags and "avx512bw" in flags:
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return None


def cpu_name(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name, as benchmarks print it beside their figures."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown CPU")
    except OSError:
        return "unknown CPU"

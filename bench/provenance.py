"""What every results file records beside its figures: the command that made it and the machine it ran on."""
import os
import shlex
import sys

from sentiment.runtime import cpu_name


def stamp():
    """{"command", "machine"} for the running benchmark (its module and arguments; the CPU and its cores)."""
    module = sys.modules["__main__"].__spec__.name if sys.modules["__main__"].__spec__ else sys.argv[0]
    return {"command": " ".join(["python -m", module, shlex.join(sys.argv[1:])]).strip(),
            "machine": f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores"}

"""PhotoClip's internal commands: jobs it runs as a process of its own (the background ONNX
export of a model's towers), and the command line that starts one, from source or in a frozen app.

From source a job runs as `python -m MODULE ARGS`. A frozen (PyInstaller) app has no `-m`:
its executable starts the app whatever it is given. So there the job is asked for with an
argument that the app's entry point (installer/bundle.py's launcher) looks for before it
imports anything else, `PhotoClip --photoclip-internal NAME ARGS`, as multiprocessing's
`freeze_support()` does for its own children. This module imports only the standard
library: the launcher imports it first thing in every start of the app.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: The entry point's first argument that asks for an internal command instead of the app.
FLAG = "--photoclip-internal"
#: name -> the module whose `main(argv) -> int` runs it (a frozen app must bundle each).
COMMANDS = {"export": "photoclip.core.exports"}


def command_line(name: str, *args: str) -> list[str]:
    """The command that runs internal command `name` with `args` in a new process."""
    module = COMMANDS[name]
    if getattr(sys, "frozen", False):
        return [sys.executable, FLAG, name, *args]
    return [sys.executable, "-m", module, *args]


def run_internal(argv: Sequence[str]) -> int | None:
    """Run the internal command that `argv` (the arguments after the program) asks for and
    return its exit code; None when it asks for none, and the app starts as usual."""
    if not argv or argv[0] != FLAG:
        return None
    name = argv[1] if len(argv) > 1 else ""
    if name not in COMMANDS:
        known = ", ".join(COMMANDS)
        print(f"photoclip: no internal command '{name}' (known: {known})", file=sys.stderr)
        return 2
    from photoclip.core.footprint import one_model_per_process

    one_model_per_process()  # each internal command is a process of its own, of one model
    main = importlib.import_module(COMMANDS[name]).main
    return int(main(list(argv[2:])) or 0)

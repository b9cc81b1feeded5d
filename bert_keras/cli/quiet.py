"""Keeping the commands' output their own.

TensorFlow, XLA and absl write C++ log lines straight to file descriptor 2,
some before `TF_CPP_MIN_LOG_LEVEL` is ever read ("All log messages before
absl::InitializeLog() ..."), so no setting silences them all. The commands
point descriptor 2 at the null device and give Python's `sys.stderr` a
descriptor of its own: their messages, warnings, tracebacks and progress
bars still reach the terminal, the native lines do not.
"""

import contextlib
import faulthandler
import os
import sys

LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def native_logs_silenced():
    """Silences native log lines unless the user set `TF_CPP_MIN_LOG_LEVEL`.

    A user who sets the variable asked for TensorFlow's own filtering and
    gets exactly that. Nothing changes either when `sys.stderr` is not the
    process's own (a test capturing output, a notebook).
    """
    if LOG_LEVEL in os.environ or sys.stderr is not sys.__stderr__:
        yield
        return
    os.environ[LOG_LEVEL] = "3"
    try:
        sys.stderr.flush()
        python_stderr = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        # No descriptor 2 to redirect (a daemon); nothing to silence.
        yield
        return
    original = sys.stderr
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = open(
        python_stderr, "w", buffering=1, encoding=original.encoding, errors="backslashreplace"
    )
    # Crashes in native code are still reported, on the real stderr.
    faulthandler.enable(file=sys.stderr)
    try:
        yield
    finally:
        sys.stderr.flush()
        faulthandler.disable()
        os.dup2(python_stderr, 2)
        sys.stderr.close()
        sys.stderr = original
        del os.environ[LOG_LEVEL]

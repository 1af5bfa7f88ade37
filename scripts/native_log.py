"""TensorFlow's C++ start-up lines (oneDNN notices, "could not find cuda drivers", cuInit) are written
to the process's stderr before TF_CPP_MIN_LOG_LEVEL takes effect. The command line collects them into
a file beside the results, so that its own progress and its one-line errors stay readable."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


class NativeLog:
    """What native code wrote to stderr inside captured_native_stderr(), once the block has ended."""

    text = ""


@contextlib.contextmanager
def captured_native_stderr():
    """Send file descriptor 2 to a temporary file while inside the block.

    If the block fails with anything but a usage error, the collected lines are written back to
    stderr, since they may say why.
    """
    from .errors import UsageError

    log = NativeLog()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield log
        except UsageError:
            raise
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            log.text = sink.read().decode(errors="replace")
            if failed:
                sys.stderr.write(log.text)

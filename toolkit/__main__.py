import gc
import signal
import sys

# A Ctrl-C while Python loads the command line is said by it, once loaded (`cli.main`): raised in
# the middle of that loading, it would come out as a traceback.
held: list[int] = []
signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
gc.disable()  # until the command line is read (`cli._loading`): loading code leaves nothing to collect

from .cli import main  # noqa: E402

code = main(interrupted=bool(held))
signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: a Ctrl-C now would only cut the exit short
sys.exit(code)

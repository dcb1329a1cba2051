import gc
import sys

gc.disable()  # until the command line is read (`cli._loading`): loading code leaves nothing to collect

from .cli import main  # noqa: E402

sys.exit(main())

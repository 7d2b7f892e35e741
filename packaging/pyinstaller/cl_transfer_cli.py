"""PyInstaller's entry for the command line: `cl-transfer` (packaging/cl-desktop.spec)."""

import sys

from cl_desktop.cli import main

sys.exit(main())

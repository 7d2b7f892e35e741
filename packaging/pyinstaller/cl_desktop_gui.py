"""PyInstaller's entry for the window: `cl-desktop` (packaging/cl-desktop.spec)."""

import sys

from cl_desktop.__main__ import main

sys.exit(main())

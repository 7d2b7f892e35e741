"""cl_desktop: a desktop transfer manager for vSphere Content Library."""

__version__ = "0.1.0"

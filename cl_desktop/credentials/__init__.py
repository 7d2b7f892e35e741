"""Connections the window and the CLI share, without Qt: certificate pins, profiles, passwords."""

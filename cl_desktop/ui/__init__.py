"""Widgets, item models, delegates and dialogs; never calls the REST client directly."""

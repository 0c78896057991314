"""The operator console: the web page that asks, shows the widget plan, speaks the answer and rates it."""

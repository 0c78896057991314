"""Typed failures of layer2 requests; mapped to HTTP in command_center/api_errors.py."""


class InvalidFeedback(ValueError):
    """Feedback that does not fit its experience (a widget index it does not have); ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

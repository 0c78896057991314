"""Typed failures of layer2 requests; mapped to HTTP in command_center/api_errors.py."""


class InvalidFeedback(ValueError):
    """Feedback that does not fit its experience (a widget index it does not have); ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ConversationNotFound(LookupError):
    """A conversation id that is not the asker's fresh conversation (unknown, expired or another user's)."""

    def __init__(self, conversation_id: str):
        self.conversation_id = conversation_id
        super().__init__(f"no conversation {conversation_id} of yours (unknown, or idle too long)")


class NotYours(PermissionError):
    """An answer the caller may see (staff) but not rate (or report on): only its asker does."""

    def __init__(self, query_id: str, action: str = "rate it"):
        self.query_id = query_id
        super().__init__(f"answer {query_id} was asked by another user: only its asker may {action}")

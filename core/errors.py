"""The one exception type the CLI turns into a clean one-line message.

Anything a user can fix (bad URL, bad file, bad flag) raises ``BreedbenchError`` with a message
that names the thing to fix; everything else is a bug and keeps its traceback.
"""


class BreedbenchError(Exception):
    """A problem the user can fix; its message is shown as is, without a traceback."""

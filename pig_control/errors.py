"""Errors that the command-line entry points turn into one line on stderr and exit status 2."""


class UserInputError(ValueError):
    """Bad input from the user: a missing or corrupt file, a wrong shape, an unknown key or name.

    Library code raises it (or a plain ``ValueError``); only the ``__main__`` entry points catch it.
    """

"""Errors that the command-line entry points turn into one line on stderr and exit status 2."""


class UserInputError(ValueError):
    """Bad input from the user: a missing or corrupt file, a wrong shape, an unknown key or name.

    Library code raises it (or a plain ``ValueError``); only the ``__main__`` entry points catch it.
    """


#: Phrases with which libraries advise loading a file unsafely (unpickling it, or allowing
#: more globals); a message to a user never repeats them.
UNSAFE_ADVICE = ("weights_only", "allow_pickle", "pickle.load", "safe_globals", "trusted source",
                 "trust the file", "if you trust")


def safe_reason(error: BaseException) -> str:
    """One line saying why a file could not be loaded, without a library's advice to load it
    unsafely (PyTorch suggests ``weights_only=False``, NumPy ``allow_pickle``): the reason
    PyTorch's weights-only unpickler gives, else the first line free of such advice, else the
    exception's type."""
    text = str(error)
    if "allow_pickle" in text and "pickled" in text:
        return "it holds pickled (object) data, which is never loaded"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    marker = "WeightsUnpickler error:"
    for i, line in enumerate(lines):
        if marker in line:
            rest = line.split(marker, 1)[1].strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            lines = [rest, *lines[i + 2:]]
            break
    for line in lines:
        line = line.split(" Please ")[0].strip()
        if line and not any(phrase in line for phrase in UNSAFE_ADVICE):
            return line
    return type(error).__name__

"""What Pillow, tifffile and nibabel warn or log while imgconv reads or
writes through them: kept off stderr, and quoted in a failed read's error."""
import contextlib
import logging
import warnings


#: the loggers whose lines imgconv keeps off stderr (see _library_messages):
#: nibabel reports header fixes through 'nibabel.global'; Pillow warns through
#: the warnings module
_LIBRARY_LOGGERS = ("tifffile", "nibabel", "nibabel.global")


@contextlib.contextmanager
def _library_messages(said):
    """Append to ``said`` what Pillow, tifffile and nibabel warn, or log at
    WARNING or above, inside the block, instead of letting it reach stderr:
    the command line's errors are one line, and a failed read adds the first
    of these messages to its own."""
    def take(record):
        # a logger filter: it sees a record before any handler, including the
        # console handler nibabel gives its own logger, and Python's last resort
        if record.levelno < logging.WARNING:
            return True
        try:
            said.append(record.getMessage())
        except Exception:  # a malformed record: its raw text will do
            said.append(str(record.msg))
        return False

    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    for logger in loggers:
        logger.addFilter(take)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield said
            finally:
                said.extend(str(w.message) for w in caught)
    finally:
        for logger in loggers:
            logger.removeFilter(take)


def _with_messages(text, said):
    """``text`` followed by the first of the libraries' messages, on one line."""
    said = list(dict.fromkeys(" ".join(m.split()) for m in said if m.strip()))
    if not said:
        return text
    first = said[0] if len(said[0]) <= 200 else said[0][:197] + "..."
    more = f" and {len(said) - 1} more" if len(said) > 1 else ""
    return f"{text} [the reader said: {first}{more}]"

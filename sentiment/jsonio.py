"""Fast JSON for answers that hold numpy arrays (the attention matrices)."""
import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(obj, indent=False):
    """bytes; numpy float32 arrays are written at float32 precision."""
    return orjson.dumps(obj, option=_OPTIONS | (orjson.OPT_INDENT_2 if indent else 0))

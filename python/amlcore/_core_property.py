"""Read-only attributes that read through to the compiled object an SDK object wraps (its ``_core``)."""


def core_property(field, *, empty_as_none=False, as_dict=False):
    """A property that returns ``self._core.<field>``.

    ``empty_as_none``: an empty value reads as None, as azureml.core reports unset fields.
    ``as_dict``: a mapping is returned as a new dict, so callers cannot change the object through it.
    """

    def get(self):
        value = getattr(self._core, field)
        if as_dict:
            return dict(value)
        if empty_as_none and not value:
            return None
        return value

    get.__name__ = field
    return property(get)

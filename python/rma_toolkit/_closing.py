"""The one base of the objects that must be closed collectively."""


class Closing:
    """``with obj:`` closes ``obj`` on exit, and garbage collection closes it
    too (pshmem's behaviour). Closing is collective: like pshmem, rely on
    ``with`` or ``close()`` rather than on the collector, which may reach
    objects in a different order on different ranks."""

    def close(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

"""A name -> factory table that refuses duplicate names (as timm's model registry does)."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import WFNetError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names map to one object each; registering a name twice is a bug, not an override."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise WFNetError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}"
            ) from None

    def unregister(self, name: str) -> T:
        """Remove a registration (a test's or a plugin's own): a name is never silently replaced."""
        try:
            return self._items.pop(name)
        except KeyError:
            raise WFNetError(f"unknown {self.kind} {name!r}; nothing to unregister") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

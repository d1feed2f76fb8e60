"""Paginated lists: every list takes `limit` and `cursor` and answers `items` and `next_cursor`
(null on the last page). Routes take `page: Annotated[Page, paged(default, maximum)]`."""

# No `from __future__ import annotations` here: FastAPI reads page()'s parameter annotations at
# run time, and they use paged()'s arguments (a string annotation could not see them).

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from rapport_gateway.text import Ascii

# Cursors are opaque tokens the services hand out (and check); this only bounds their size.
CURSOR_MAX = 512


@dataclass(frozen=True)
class Page:
    limit: int
    cursor: str


def paged(default: int, maximum: int) -> Any:
    """The `limit` (1 to `maximum`, `default` when absent) and `cursor` query parameters."""

    def page(
        limit: Annotated[int, Query(ge=1, le=maximum, description="items per page")] = default,
        cursor: Annotated[
            Ascii, Query(max_length=CURSOR_MAX, description="next_cursor of the previous page")
        ] = "",
    ) -> Page:
        return Page(limit, cursor)

    return Depends(page)


def next_cursor(value: str) -> str | None:
    """A service's empty next_cursor (no more pages) is null in the API."""
    return value or None

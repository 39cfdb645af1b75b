"""The store's errors: each says what happened in words a page can show as they are."""

from __future__ import annotations

from core.errors import UnrolledError


class StoreError(UnrolledError):
    """The store cannot be used: unreachable, locked, full, read-only, or of another schema version. The game
    goes on alone and says so."""


class RoomError(UnrolledError):
    """A room cannot be joined or written as asked."""


class NoSuchRoom(RoomError):
    pass


class RoomClosed(RoomError):
    pass


class RoomFull(RoomError):
    pass


class NotTheTeacher(RoomError):
    pass

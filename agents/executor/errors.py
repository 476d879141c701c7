"""Why an executor call refused: the API maps these to 404 and 409."""

from __future__ import annotations


class OrderNotFound(LookupError):
    """No transfer order or promo proposal with that id."""

    def __init__(self, subject_type: str, subject_id: str) -> None:
        super().__init__(f"{subject_type} {subject_id!r} does not exist")
        self.subject_type = subject_type
        self.subject_id = subject_id


class InvalidTransition(ValueError):
    """The subject is not in a status that allows the asked step."""

    def __init__(
        self, subject_type: str, subject_id: str, current: str, wanted: str, why: str = ""
    ) -> None:
        message = f"cannot move {subject_type} {subject_id!r} from {current!r} to {wanted!r}"
        super().__init__(f"{message}: {why}" if why else message)
        self.subject_type = subject_type
        self.subject_id = subject_id
        self.current = current
        self.wanted = wanted


class NotDecided(ValueError):
    """The subject has no decision that allows executing it (no decided or auto-approved row)."""

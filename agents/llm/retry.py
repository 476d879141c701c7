"""Which provider failures are worth asking again, and how long to wait first.

Retried: 408, 409, 429, 5xx, a refused or dropped connection, and a *connect* timeout (the
request never reached the server). Not retried: any other 4xx (the same request fails the same
way) and a *read* timeout: a slow local model is still generating the answer, and asking again
only queues a duplicate behind it (the server does not cancel abandoned requests).
"""

from __future__ import annotations

import httpx
import openai

#: Longest wait honoured from a Retry-After header, in seconds.
MAX_RETRY_AFTER_S = 30.0


def retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.APITimeoutError):
        return isinstance(exc.__cause__, httpx.ConnectTimeout)
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)


def delay_s(exc: Exception, attempt: int) -> float:
    """The server's Retry-After when it gives one (bounded), else exponential backoff."""
    response = getattr(exc, "response", None)
    headers = response.headers if isinstance(response, httpx.Response) else {}
    try:
        if "retry-after-ms" in headers:
            return min(MAX_RETRY_AFTER_S, float(headers["retry-after-ms"]) / 1000)
        if "retry-after" in headers:
            return min(MAX_RETRY_AFTER_S, float(headers["retry-after"]))
    except ValueError:
        pass
    return min(8.0, 0.5 * 2 ** (attempt - 1))


def describe(exc: Exception, model: str, attempts: int, timeout_s: float) -> str:
    """One sentence for the user: what failed, and whether it was tried again."""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, openai.APITimeoutError) and not retryable(exc):
        return (
            f"{model} did not answer within {timeout_s:g} s (not retried: the server may still "
            "be working on it; raise STOCKPILOT_LLM_TIMEOUT_S for a slow local model)"
        )
    if isinstance(exc, openai.APIStatusError):
        again = tried if retryable(exc) else " (not retried)"
        return f"{model} answered HTTP {exc.status_code}{again}: {exc.message}"
    return f"{model} unreachable{tried}: {exc}"

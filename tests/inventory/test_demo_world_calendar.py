"""The demo world must not depend on the machine's locale.

`holidays` returns holiday names in the process locale's language (Chinese without LANG), and the
calendar matches "Spring Festival" by name, so an unpinned language silently changed the world.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import datetime as dt
from inventory.demo_world.demand import build_calendar
from inventory.demo_world.params import DEFAULT_PARAMETERS as P
days = [dt.date(2015, 2, 19), dt.date(2015, 10, 1), dt.date(2015, 3, 10)]
cal = build_calendar(days, P)
assert list(cal.holiday_store) == [P.spring_festival_store, P.holiday_store, 1.0], cal.holiday_store
print("ok")
"""


def test_holiday_calendar_is_the_same_without_a_locale() -> None:
    for env in ({"PATH": os.environ["PATH"]}, {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0 and out.stdout.strip() == "ok", (env, out.stderr)

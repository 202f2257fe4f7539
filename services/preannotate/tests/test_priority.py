"""preannotate's CPU priority (``lower_priority``): its nice value, and its session's where it leads one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

AUTOGROUP = Path("/proc/self/autogroup")
SCRIPT = ("import os; from annotary_preannotate.__main__ import lower_priority; lower_priority(7); "
          "print(os.nice(0), *open('/proc/self/autogroup').read().split()[-1:])")


def _autogroup_nice() -> list[str]:
    """This process's session's nice value; none where the session is init's (no group: the file is empty)."""
    return AUTOGROUP.read_text().split()[-1:]


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="the kernel groups no processes by session (no autogroup)")
def test_a_session_leader_lowers_its_session_and_a_member_leaves_it_alone() -> None:
    base = os.nice(0)
    leader = subprocess.run([sys.executable, "-c", SCRIPT], start_new_session=True, capture_output=True, text=True,
                            check=True, timeout=120)
    assert leader.stdout.split() == [str(min(19, base + 7)), "7"]  # a new session starts at 0
    member = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120)
    assert member.stdout.split() == [str(min(19, base + 7)), *_autogroup_nice()]  # this test's session untouched

"""What a run records about where it ran: host, user, Python, git state, packages.

Nothing here may stop a run: a missing git, a folder that is not a repository, a
repository git refuses to read (another owner) or a broken package all end up
recorded as unavailable, with the reason.
"""

from __future__ import annotations

import getpass
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from sweepstack.store._names import HOST

__all__ = ["distributions", "find_repository", "git_state", "reproduction_line", "session"]

_GIT_TIMEOUT = 30.0
_DIFF_LIMIT = 10 * 1024 * 1024  # a dirty diff larger than this is cut (and marked so)
_platform: str | None = None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no passwd entry, e.g. in some containers
        return str(os.getuid())


def _platform_name() -> str:
    global _platform
    if _platform is None:
        _platform = platform.platform()
    return _platform


def reproduction_line(argv: Sequence[str], cwd: str) -> str:
    """A shell line that runs ``argv`` again from ``cwd``, every word quoted as needed.

    >>> reproduction_line(["pi.py", "-c", "my exp"], "/home/a")  # doctest: +SKIP
    "cd /home/a && /usr/bin/python3 pi.py -c 'my exp'"
    """
    words = list(argv)
    if words and words[0].endswith(".py"):
        words.insert(0, sys.executable or "python")
    return f"cd {shlex.quote(cwd)} && {shlex.join(words)}"


def find_repository(start: str) -> str | None:
    """The top folder of the git work tree holding ``start``, found without running git."""
    folder = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):  # a folder, or a file for worktrees
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _git(root: str, *args: str) -> tuple[str | None, str]:
    """(stdout, "") of a git command, or (None, why it failed)."""
    env = dict(os.environ, LC_ALL="C", GIT_OPTIONAL_LOCKS="0")  # never take the index lock
    try:
        done = subprocess.run(
            ["git", "-C", root, *args],
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        return None, "git is not installed"
    except subprocess.TimeoutExpired:
        return None, f"git {args[0]} took more than {_GIT_TIMEOUT:.0f} s"
    except OSError as err:
        return None, f"git could not be run: {err.strerror or err}"
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, f"git {args[0]} failed: {message[0] if message else done.returncode}"
    return done.stdout.decode("utf-8", "replace"), ""


def git_state(start: str, diff: bool = False) -> dict[str, Any]:
    """Commit, branch and dirty flag of the repository holding ``start`` (one git call).

    ``dirty`` counts changes to tracked files only, as untracked files (results,
    notebooks) are common and do not change the code. With ``diff``, ``diff`` holds
    ``git diff HEAD`` (cut at 10 MiB, then ``diff_truncated`` is true).
    """
    root = find_repository(start)
    if root is None:
        return {"available": False, "reason": f"{start} is not in a git repository"}
    out, why = _git(root, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if out is None:
        return {"available": False, "reason": why, "root": root}
    commit = branch = None
    dirty = False
    for line in out.splitlines():
        if line.startswith("# branch.oid "):
            commit = line[len("# branch.oid ") :].strip()
        elif line.startswith("# branch.head "):
            branch = line[len("# branch.head ") :].strip()
        elif line and not line.startswith("#"):
            dirty = True
    state: dict[str, Any] = {
        "available": True,
        "root": root,
        "commit": None if commit in (None, "(initial)") else commit,
        "branch": None if branch in (None, "(detached)") else branch,
        "dirty": dirty,
    }
    if diff:
        patch, why = _git(root, "diff", "HEAD") if state["commit"] else ("", "")
        if patch is None:
            state["diff"] = None
            state["diff_reason"] = why
        else:
            state["diff"] = patch[:_DIFF_LIMIT]
            state["diff_truncated"] = len(patch) > _DIFF_LIMIT
    return state


def distributions() -> dict[str, str]:
    """Installed distributions and their versions (``pip freeze`` without running pip)."""
    from importlib import metadata  # only on --store-full

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # a broken distribution must not stop the run
            continue
        if name and version and name not in found:
            found[name] = version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def session(argv: Sequence[str] | None, store_full: bool) -> dict[str, Any]:
    """The metadata of an engine session started now by this process."""
    args = [str(a) for a in (sys.argv if argv is None else argv)]
    cwd = os.getcwd()
    script = args[0] if args and os.path.isfile(args[0]) else None
    document: dict[str, Any] = {
        "host": HOST,
        "pid": os.getpid(),
        "user": _user(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": _platform_name(),
        "cwd": cwd,
        "argv": args,
        "reproduce": reproduction_line(args, cwd),
        "git": git_state(os.path.dirname(os.path.abspath(script)) if script else cwd, store_full),
    }
    if store_full:
        document["distributions"] = distributions()
    return document

"""ASE trajectories that runs resume from: read what a killed job left, refuse what is unreadable.

A job killed while it appends a frame leaves the frames before it intact (ASE's ULM format
updates its frame count only after a frame is complete), so resuming keeps every complete
frame. A file that is not a trajectory at all, or whose first frame cannot be read, is an
error: restarting would overwrite it, and it may hold hours of DFT steps.
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms

from structures.errors import HecathodeInputError

# what ASE's ULM reader raises on a damaged file: InvalidULMFileError (an OSError) for a file
# that is not ULM at all, and the numpy / JSON / index errors of a header or frame cut short
DAMAGED_FILE_ERRORS = (OSError, ValueError, KeyError, IndexError, EOFError)


class UnreadableTrajectoryError(HecathodeInputError):
    """A trajectory that exists but cannot be read (so it cannot be resumed from)."""


def read_frames(path: str | Path) -> list[Atoms]:
    """Frames of an ASE trajectory, stopping quietly at a frame cut short by a kill.

    A missing or empty file has no frames. Raises UnreadableTrajectoryError when the file is
    not empty but not even its first frame can be read.
    """
    from ase.io.trajectory import Trajectory

    frames: list[Atoms] = []
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return frames
    try:
        with Trajectory(str(path)) as traj:
            n = len(traj)
            for i in range(n):
                frames.append(traj[i])
    except DAMAGED_FILE_ERRORS as exc:
        if not frames:
            why = " ".join(str(exc).split())[:120] or type(exc).__name__
            raise UnreadableTrajectoryError(
                f"cannot read the trajectory {path} ({why}); it was left as it is: delete it "
                "to restart from the input structure") from None
        # a truncated last frame: keep the complete ones
    return frames


def is_master() -> bool:
    """True on MPI rank 0 (and in serial runs)."""
    from ase.parallel import world

    return world.rank == 0


def rewrite(path: Path, frames: list[Atoms]) -> None:
    """Write `frames` as the trajectory at `path`, atomically (rank 0 writes, the others wait)."""
    from ase.io.trajectory import Trajectory
    from ase.parallel import barrier

    from structures.io import atomic_write

    def write(tmp: str) -> None:
        with Trajectory(tmp, "w") as traj:
            for frame in frames:
                traj.write(frame)

    if is_master():
        atomic_write(path, write)
    barrier()

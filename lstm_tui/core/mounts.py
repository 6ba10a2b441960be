"""Which file system a path lies on: a network one (NFS, SMB, sshfs ...) raises no local change
event for another host's writes, so what is followed there is polled (:mod:`.follow`)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["NETWORK_FS", "network_file_system"]

#: File systems where another host's writes raise no local change events.
NETWORK_FS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.gcsfuse",
        "fuse.ceph",
        "davfs",
        "fuse.davfs2",
    }
)


def _mounts() -> list[tuple[str, str]]:
    """``(mount point, file system type)`` of each mount (Linux; empty elsewhere)."""
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    mounts = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) > 4 and tail:
            mounts.append((fields[4].replace("\\040", " "), tail[0]))
    return mounts


def network_file_system(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies on a network file system (by the longest matching mount point)."""
    target = os.path.realpath(path)
    best, kind = "", ""
    for point, fstype in _mounts():
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fstype
    return kind in NETWORK_FS or kind.startswith("nfs")

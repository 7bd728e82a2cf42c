"""What a submission folder is: folders and regular files, listed, copied and read without following a link.

A symbolic link in a submission (to source/, to /etc/passwd, to another student's notebook) would bring what
it points to into grading: a folder holding one is not graded (:meth:`course.grading.Grader.preflight` says
why), and every copy made of a submission (into a sandbox, to a Dask worker) takes folders and regular files
only.
"""
import os
import shutil
from pathlib import Path


def symbolic_links(folder):
    """Symbolic links anywhere in a submission folder, by their paths inside it."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                found.append(os.path.relpath(os.path.join(dirpath, name), folder))
    return sorted(found)


def copy(src, dest):
    """Copy a submission folder; a symbolic link or a device is dropped, never followed."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o755)
    for entry in os.scandir(src):
        target = dest / entry.name
        if entry.is_dir(follow_symlinks=False):
            copy(entry.path, target)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, target, follow_symlinks=False)
            os.chmod(target, 0o644)


def read(folder, prefix=""):
    """path (under ``prefix``) -> bytes for every regular file below ``folder``."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):  # os.walk does not descend into linked folders
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path) and os.path.isfile(path):
                rel = os.path.relpath(path, folder)
                found[os.path.join(prefix, rel) if prefix else rel] = Path(path).read_bytes()
    return dict(sorted(found.items()))


def write(folder, files):
    """Write what :func:`read` returned below ``folder``."""
    for rel, data in files.items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

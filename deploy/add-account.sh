#!/usr/bin/env bash
# A hub account for the course, as root:  deploy/add-account.sh NAME GROUP
# GROUP is the course's students' or graders' Unix group (deploy/setup-course.sh).  Set the password
# afterwards (`passwd NAME`, or `chpasswd` for a whole class): the hub logs in with it (PAM).
set -euo pipefail
name=${1:?usage: add-account.sh NAME GROUP}
group=${2:?usage: add-account.sh NAME GROUP}
# A private home (Debian's useradd makes it 755): fetched assignments, the local copy of every submission
# and the secret that names the student's feedback file live there.
useradd --create-home --key HOME_MODE=0700 --shell /bin/bash --groups "$group" "$name"

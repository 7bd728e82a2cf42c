#!/usr/bin/env bash
# One-time set-up of the course on the hub machine, as root, before any student logs in:
# the course's two Unix groups, the exchange, and the course's own folder in it.
#
#   deploy/setup-course.sh GRADER_ACCOUNT
#
# GRADER_ACCOUNT owns the course folder and releases, collects and grades (the formgrader service runs as it);
# it is created (deploy/add-account.sh) if it does not exist.
# Environment (defaults are a real server's): COURSE_EXCHANGE=/srv/nbgrader/exchange,
# COURSE_STUDENTS_GROUP=backprop-students, COURSE_GRADERS_GROUP=backprop-graders.
set -euo pipefail
grader=${1:?usage: setup-course.sh GRADER_ACCOUNT}
exchange=${COURSE_EXCHANGE:-/srv/nbgrader/exchange}
students=${COURSE_STUDENTS_GROUP:-backprop-students}
graders=${COURSE_GRADERS_GROUP:-backprop-graders}

getent group "$students" >/dev/null || groupadd "$students"
getent group "$graders" >/dev/null || groupadd "$graders"
id "$grader" >/dev/null 2>&1 || "$(dirname "$0")/add-account.sh" "$grader" "$graders"
usermod --append --groups "$graders" "$grader"

# nbgrader refuses an exchange root that is not writable by everyone (mode 777); the sticky bit keeps
# anyone from removing or renaming what someone else made there.
install -d -m 1777 -o root -g root "$exchange"
# The course's folder exists before any student can log in, so no student can make it first.  Its setgid
# bit gives inbound/ and every submission in it the graders' group: PrivateSubmit in
# deploy/jupyter/nbgrader_config.py then closes each submission to everyone else.
install -d -m 2755 -o "$grader" -g "$graders" "$exchange/backprop"

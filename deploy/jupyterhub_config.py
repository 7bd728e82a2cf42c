"""JupyterHub for the course: Unix accounts (PAM), one JupyterLab per user, the formgrader as a hub service.

Run as root from the hub's state folder (its database, cookie secret and the proxy's pid file are written
there), with the course's requirements installed in the Python that runs it:

    cd /srv/jupyterhub && /opt/backprop/.venv/bin/jupyterhub -f /etc/jupyterhub/jupyterhub_config.py

Everything that differs between machines comes from an environment variable, whose default is the value for
a real server; tests/test_hub.py runs this very file on 127.0.0.1 with other values.
"""
import grp
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
env = os.environ.get

COURSE_ID = "backprop"  # the course_id of both nbgrader_config.py files, and the formgrader service's name
ENV_BIN = Path(sys.executable).parent  # users' servers run in the hub's own environment (requirements.txt)
EXCHANGE = env("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
JUPYTER_CONFIG = env("COURSE_JUPYTER_CONFIG", "/etc/jupyter")  # holds deploy/jupyter/nbgrader_config.py
STUDENTS = env("COURSE_STUDENTS_GROUP", f"{COURSE_ID}-students")  # Unix groups, see deploy/setup-course.sh
GRADERS = env("COURSE_GRADERS_GROUP", f"{COURSE_ID}-graders")
GRADER_ACCOUNT = env("COURSE_GRADER_ACCOUNT", f"grader-{COURSE_ID}")  # owns the course folder, runs the formgrader
COURSE_DIR = env("COURSE_DIR", f"/home/{GRADER_ACCOUNT}/{COURSE_ID}")
# The grading environment: the whole course package (students' environment has only their helpers).
GRADER_BIN = Path(env("COURSE_GRADER_ENV", str(ENV_BIN.parent))) / "bin"

# Put TLS in front (a reverse proxy, or c.JupyterHub.ssl_cert/ssl_key): PAM passwords cross this port.
c.JupyterHub.bind_url = env("COURSE_HUB_URL", "http://:8000")
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env('COURSE_HUB_API_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('COURSE_PROXY_API_PORT', '8001')}"

# Log in with the Unix account's password; only members of the course's groups get in.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {STUDENTS, GRADERS}

# Each user's JupyterLab runs as that user, in their home, with the system-wide nbgrader config.
SERVER_ENV = {
    "PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin",  # nbgrader runs `alembic` from PATH
    "JUPYTER_CONFIG_PATH": JUPYTER_CONFIG,
    "COURSE_EXCHANGE": EXCHANGE,
}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(ENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = SERVER_ENV
c.Spawner.http_timeout = 120  # JupyterLab can take a minute to answer on a busy small machine
c.Spawner.start_timeout = 180

# The formgrader: a JupyterLab of the grader account in the course folder, reached through the hub at
# /services/backprop/ by the members of the graders' Unix group (read when the hub starts: restart it
# after adding a grader).  JupyterHub >= 4.1 forbids framing its servers, so the formgrader opens in its
# own browser tab at /services/backprop/formgrader (docs/scaling.md, section 3).
SERVICE_ENV = {**SERVER_ENV, "PATH": f"{GRADER_BIN}:/usr/local/bin:/usr/bin:/bin", "JUPYTERHUB_DEFAULT_URL": "/formgrader"}
if env("COURSE_DB_URL"):  # a PostgreSQL gradebook (docs/scaling.md); the course folder's config reads it
    SERVICE_ENV["COURSE_DB_URL"] = env("COURSE_DB_URL")
c.JupyterHub.services = [{
    "name": COURSE_ID,
    "url": f"http://127.0.0.1:{env('COURSE_SERVICE_PORT', '9999')}",
    "command": [str(GRADER_BIN / "jupyterhub-singleuser")],
    "user": GRADER_ACCOUNT,
    "cwd": COURSE_DIR,  # nbgrader reads the course's nbgrader_config.py from here
    "environment": SERVICE_ENV,
    "oauth_no_confirm": True,  # the admin's own service: no "Authorize access" page for each grader
    "timeout": 120,  # seconds to start; the hub gives up (and exits) after 30 by default
}]
FORMGRADE_GROUP = f"formgrade-{COURSE_ID}"
c.JupyterHub.load_groups = {FORMGRADE_GROUP: {"users": grp.getgrnam(GRADERS).gr_mem}}
c.JupyterHub.load_roles = [{
    "name": FORMGRADE_GROUP,
    "groups": [FORMGRADE_GROUP],
    "scopes": [f"access:services!service={COURSE_ID}", f"read:services!service={COURSE_ID}", "list:services"],
}]

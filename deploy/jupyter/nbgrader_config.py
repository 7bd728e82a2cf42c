"""System-wide nbgrader configuration for every account on the hub: copy to /etc/jupyter/nbgrader_config.py.

Students' and instructors' servers read it (JupyterHub's spawner points JUPYTER_CONFIG_PATH at its folder, see
deploy/jupyterhub_config.py); the course folder's own nbgrader_config.py says the same course_id and exchange.
"""
import os

from nbgrader.exchange.default.submit import ExchangeSubmit

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "backprop"  # the course folder's nbgrader_config.py and the hub service say the same
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True  # students fetch into ~/backprop/<assignment>/


class PrivateSubmit(ExchangeSubmit):
    """A submission only its student and the graders can open.

    nbgrader 0.9 leaves a submission's folder in inbound/ open to everyone (mode 777, files 644), hidden only
    by its random name: anyone who learns the name (a shell history, a process list, a shared screen) reads
    the notebook and the secret that names the student's feedback file.  The course's exchange folder is
    setgid with the graders' group (deploy/setup-course.sh), so the submission's folder belongs to that
    group; mode 770 closes it to everyone else.
    """

    def copy_files(self):
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), 0o770)


c.ExchangeFactory.submit = PrivateSubmit

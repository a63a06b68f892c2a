"""Global nbgrader configuration of a class machine: every user's nbgrader reads it.

deploy/setup_course.sh installs it as ``<course env>/etc/jupyter/nbgrader_config.py`` with the exchange
path it created. Per-user files (~/.jupyter/nbgrader_config.py: the instructor's CourseDirectory.root)
take precedence because the Hub starts servers with JUPYTER_PREFER_ENV_PATH=0.
"""

c = get_config()  # noqa: F821  (injected by Jupyter)

# The one course on this machine (the same id as the repository's nbgrader_config.py).
c.CourseDirectory.course_id = "multimodal-learning"

# The exchange: a directory every user can write to (mode 0777; nbgrader makes the course's
# inbound/ write-only for students and names each submission with a random suffix).
c.Exchange.root = "/srv/nbgrader/exchange"

# Tracebacks in plain form: a failing visible assert shows its own line only, not the lines around it
# (IPython's default context would print the first lines of the hidden tests below it into the
# feedback; the hidden block's own `%xmode Minimal` only takes effect once it runs).
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Plain"]

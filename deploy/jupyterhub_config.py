"""JupyterHub for a class on one machine: one OS user per person, servers started as those users.

Run as root, after deploy/setup_course.sh:  jupyterhub -f deploy/jupyterhub_config.py
Everything a class changes comes from environment variables (defaults in brackets):

  COURSE_ENV              the course environment every user runs [/opt/multimodal-course/venv]
  COURSE_HUB_STATE        the Hub's database, cookie secret and proxy pid file [/srv/multimodal-course/hub]
  COURSE_HUB_BIND_URL     where people connect [http://127.0.0.1:8000]; loopback by default: to open the
                          class to a network, put an HTTPS reverse proxy in front, or set
                          http://0.0.0.0:8000 plus c.JupyterHub.ssl_cert / ssl_key
  COURSE_HUB_API_URL      the Hub's internal API [http://127.0.0.1:8081]
  COURSE_PROXY_API_URL    configurable-http-proxy's API [http://127.0.0.1:8001]
  COURSE_INSTRUCTORS      comma-separated OS user names of the instructors
  COURSE_STUDENTS         comma-separated OS user names of the students (only these users may log in)
  COURSE_ADMINS           comma-separated Hub administrators (admin page; can reach every server)
  COURSE_SERVICE_TOKEN    optional: an API token for scripts (release, collect, grade over the REST API)

People log in with their OS password (PAMAuthenticator, the Hub's default). Every user's
single-user server runs as that user from COURSE_ENV, so file permissions separate the students.
"""

import os

c = get_config()  # noqa: F821  (injected by JupyterHub)


def _names(variable: str) -> set[str]:
    return {name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()}


COURSE_ENV = os.environ.get("COURSE_ENV", "/opt/multimodal-course/venv")
STATE = os.environ.get("COURSE_HUB_STATE", "/srv/multimodal-course/hub")
os.makedirs(STATE, mode=0o700, exist_ok=True)

# Network: the public URL, the Hub's API and the proxy's API, all on loopback unless told otherwise.
c.JupyterHub.bind_url = os.environ.get("COURSE_HUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = os.environ.get("COURSE_HUB_API_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = os.environ.get("COURSE_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "jupyterhub-proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")

# Who may log in: the course's instructors and students, by OS user name.
instructors, students = _names("COURSE_INSTRUCTORS"), _names("COURSE_STUDENTS")
c.Authenticator.allowed_users = instructors | students
c.Authenticator.admin_users = _names("COURSE_ADMINS")

# One OS user per person: servers run as that user, from the course environment, in their home.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(COURSE_ENV, "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    # nbgrader runs alembic as a subprocess: the course environment's bin/ comes first.
    "PATH": os.path.join(COURSE_ENV, "bin") + ":/usr/local/bin:/usr/bin:/bin",
    # In a venv, the venv's Jupyter config would override ~/.jupyter; this keeps the per-user
    # nbgrader config (the instructor's course directory) in charge.
    "JUPYTER_PREFER_ENV_PATH": "0",
    # Two cores shared by a class: one BLAS thread per kernel.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90

# Optional API token for scripts: the release → collect → grade → feedback cycle over the REST API.
token = os.environ.get("COURSE_SERVICE_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "course-grader", "api_token": token}]
    c.JupyterHub.load_roles = [{
        "name": "course-grader-role",
        "scopes": ["admin:users", "admin:servers", "access:servers", "read:users", "tokens"],
        "services": ["course-grader"],
    }]

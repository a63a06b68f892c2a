#!/usr/bin/env bash
# Set up the course for a class on this machine (run as root; safe to run again).
#
#   deploy/setup_course.sh --instructor NAME [--students "a b c"] [--course-env DIR]
#                          [--exchange DIR] [--course-dir DIR] [--db-url URL] [--source DIR]
#
# 1. the course environment COURSE_ENV [/opt/multimodal-course/venv], readable by every user, built
#    from /usr/bin/python3 (an interpreter under /root, such as pyenv's, cannot run for other users);
#    an existing environment is kept as it is; the global nbgrader config goes into its etc/jupyter/;
# 2. the exchange EXCHANGE [/srv/nbgrader/exchange], mode 0777 (nbgrader insists on exactly that);
# 3. the instructor's course directory COURSE_DIR [~instructor/multimodal-learning], mode 0700: the
#    repository's nbgrader_config.py, solutions/ (copied once; the instructor's edits are kept) and the
#    gradebook with the students (SQLite in the course directory, or --db-url, e.g.
#    postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB); ~instructor/.jupyter/nbgrader_config.py
#    points nbgrader at both;
# 4. each student's home made private (0700), formgrader switched off for them.
# The OS users must exist (useradd -m NAME; passwd NAME): the Hub logs people in with PAM.
set -euo pipefail

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
COURSE_ENV=/opt/multimodal-course/venv
EXCHANGE=/srv/nbgrader/exchange
COURSE_DIR=
INSTRUCTOR=
STUDENTS=
DB_URL=
COURSE_ID=multimodal-learning

while [ $# -gt 0 ]; do
  case "$1" in
    --instructor) INSTRUCTOR=$2; shift 2 ;;
    --students) STUDENTS=$2; shift 2 ;;
    --course-env) COURSE_ENV=$2; shift 2 ;;
    --exchange) EXCHANGE=$2; shift 2 ;;
    --course-dir) COURSE_DIR=$2; shift 2 ;;
    --db-url) DB_URL=$2; shift 2 ;;
    --source) SOURCE=$2; shift 2 ;;
    *) echo "unknown option: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -n "$INSTRUCTOR" ] || { echo "--instructor NAME is required" >&2; exit 2; }
id "$INSTRUCTOR" >/dev/null
INSTRUCTOR_HOME=$(getent passwd "$INSTRUCTOR" | cut -d: -f6)
COURSE_DIR=${COURSE_DIR:-$INSTRUCTOR_HOME/$COURSE_ID}
DB_URL=${DB_URL:-sqlite:///$COURSE_DIR/gradebook.db}

as_user() {  # as_user NAME DIR COMMAND...: run in DIR as NAME with the course environment only
  local name=$1 dir=$2; shift 2
  local home; home=$(getent passwd "$name" | cut -d: -f6)
  (cd "$dir" && runuser -u "$name" -- env -i HOME="$home" USER="$name" LANG=C.UTF-8 \
     PATH="$COURSE_ENV/bin:/usr/local/bin:/usr/bin:/bin" JUPYTER_PREFER_ENV_PATH=0 "$@")
}

# 1. The course environment.
if [ ! -x "$COURSE_ENV/bin/python" ]; then
  echo "Building the course environment in $COURSE_ENV (a few minutes)"
  /usr/bin/python3 -m venv "$COURSE_ENV"
  "$COURSE_ENV/bin/python" -m pip install --quiet --upgrade pip
  "$COURSE_ENV/bin/python" -m pip install --quiet "$SOURCE[hub]"
fi
mkdir -p "$COURSE_ENV/etc/jupyter"
sed "s|^c.Exchange.root = .*|c.Exchange.root = \"$EXCHANGE\"|" "$SOURCE/deploy/nbgrader_config.py" \
  > "$COURSE_ENV/etc/jupyter/nbgrader_config.py"
chmod -R a+rX "$COURSE_ENV"

# 2. The exchange.
mkdir -p "$EXCHANGE"
chmod 0777 "$EXCHANGE"

# 3. The instructor's course directory and gradebook.
chmod 0700 "$INSTRUCTOR_HOME"
mkdir -p "$COURSE_DIR/solutions"
cp "$SOURCE/nbgrader_config.py" "$COURSE_DIR/nbgrader_config.py"
cp -rn "$SOURCE/solutions/." "$COURSE_DIR/solutions/"
mkdir -p "$INSTRUCTOR_HOME/.jupyter"
cat > "$INSTRUCTOR_HOME/.jupyter/nbgrader_config.py" <<EOF
c = get_config()
c.CourseDirectory.root = "$COURSE_DIR"
c.CourseDirectory.course_id = "$COURSE_ID"
c.CourseDirectory.db_url = "$DB_URL"
EOF
chmod 0600 "$INSTRUCTOR_HOME/.jupyter/nbgrader_config.py"  # it may hold a database password
chown -R "$INSTRUCTOR:" "$COURSE_DIR" "$INSTRUCTOR_HOME/.jupyter"
chmod 0700 "$COURSE_DIR"
# The gradebook (created on first use, with nbgrader's schema) and the class list.
as_user "$INSTRUCTOR" "$COURSE_DIR" python - "$DB_URL" $STUDENTS <<'EOF'
import sys
from nbgrader.api import Gradebook
with Gradebook(sys.argv[1]) as gradebook:
    for student in sys.argv[2:]:
        gradebook.update_or_create_student(student)
EOF

# 4. Students: private homes; no formgrader or assignment creator in their JupyterLab.
for student in $STUDENTS; do
  home=$(getent passwd "$student" | cut -d: -f6)
  chmod 0700 "$home"
  mkdir -p "$home/.jupyter/labconfig"
  cat > "$home/.jupyter/jupyter_server_config.json" <<'EOF'
{"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": false}}}
EOF
  cat > "$home/.jupyter/labconfig/page_config.json" <<'EOF'
{"disabledExtensions": {"@jupyter/nbgrader:formgrader": true, "@jupyter/nbgrader:create-assignment": true}}
EOF
  chown -R "$student:" "$home/.jupyter"
done

echo "Course set up: environment $COURSE_ENV, exchange $EXCHANGE, course directory $COURSE_DIR"

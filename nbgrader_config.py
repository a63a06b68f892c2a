"""nbgrader configuration of the course (instructor side: release, autograde, feedback)."""

c = get_config()  # noqa: F821  (injected by nbgrader)

c.CourseDirectory.course_id = "multimodal-learning"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# A hung cell fails alone: with interrupt_on_timeout left True it scores 0 and the rest is graded.
c.Execute.timeout = 120
# A kernel that starts slowly on a busy machine is waited for (nbclient's default is 60 s).
c.Execute.startup_timeout = 180
# Plain tracebacks: IPython's default context mode prints the lines *after* a failing visible assert,
# which are the first lines of the hidden block (its own `%xmode Minimal` has not run yet).
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Plain"]

# Students get a stub to replace, never the solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback never shows hidden tests (hidden cells also start with %xmode Minimal,
# so a traceback cannot print their lines either).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursetools.feedback.SafeFeedback",  # plain outputs only, cut; student markdown cleaned; no hidden lines
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

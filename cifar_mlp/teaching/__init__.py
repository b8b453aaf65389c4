"""The teaching wing: the exercises' checks (``checks``, one module per chapter), the
student edition (``student``) and the grader (``grade``, which runs each submission
through ``runner`` inside ``sandbox``)."""

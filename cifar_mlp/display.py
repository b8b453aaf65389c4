"""Show the package's own code in the chapters, so prose and code cannot drift apart."""

import inspect


def show_source(*objects):
    """The source of functions or methods, highlighted, as one notebook output."""
    from IPython.display import Code

    return Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python")
